// Field errors next to their fields: elements `<small class="field-error" data-field="NAME">`;
// and a select's options from a list of values.
import { h } from './dom.js';
import { has, lang, t } from './i18n.js';

/** Clears every field error under `root`. */
export function clearFieldErrors(root) {
  for (const el of root.querySelectorAll('.field-error')) {
    el.textContent = '';
    const input = el.dataset.for && root.querySelector(`#${el.dataset.for}`);
    if (input) input.removeAttribute('aria-invalid');
  }
}

/** Shows the API's `fields` next to their fields under `root` (the first such field gets
 * the focus, unless `focus` is false); returns those with no place. */
export function showFieldErrors(root, fields, { focus = true } = {}) {
  const unplaced = [];
  for (const f of fields || []) {
    const el = findError(root, f.field || '');
    if (!el) {
      unplaced.push(f);
      continue;
    }
    const said = fieldWords(f);
    el.textContent = el.textContent ? `${el.textContent} ${said}` : said;
    const input = el.dataset.for && root.querySelector(`#${el.dataset.for}`);
    if (input) input.setAttribute('aria-invalid', 'true');
  }
  const first = focus && root.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
  return unplaced;
}

/** "incident.location.lat" -> the error element of "lat"; "caller.phone" -> "caller.phone". */
function findError(root, field) {
  const parts = field.split('.');
  for (let i = 0; i < parts.length; i++) {
    const name = parts.slice(i).join('.');
    const el = root.querySelector(`.field-error[data-field="${CSS.escape(name)}"]`);
    if (el) return el;
  }
  return null;
}

/** One error for one field, from the screen's own checks (already in the screen's language). */
export const fieldError = (field, description) => ({ field, description, translated: true });

/** A field error's words. The API's are English: a Vietnamese screen says instead what is
 * wrong with that field in Vietnamese (`error.field.NAME`), or that it is not valid. */
export function fieldWords(f) {
  if (f.translated || lang() === 'en') return f.description;
  const name = String(f.field || '').split('.').pop();
  return has(`error.field.${name}`) ? t(`error.field.${name}`) : t('error.field_invalid');
}

/** "10,7769" or "10.7769" -> 10.7769; "" -> null; not a number -> NaN. */
export function parseNumber(text) {
  const s = String(text ?? '').trim().replace(',', '.');
  return s === '' ? null : Number(s);
}

/** Fills a `<select>` with an option per value, labelled by the message `${labels}.${value}`
 * (relabelled with the language); a form reset comes back to `initial`. */
export function fillOptions(select, values, labels, initial) {
  const options = values.map((value) => {
    const key = `${labels}.${value}`;
    const option = h('option', { value: String(value), dataset: { i18n: key } }, t(key));
    option.defaultSelected = String(value) === String(initial);
    return option;
  });
  select.replaceChildren(...options);
}
