// Every label of the dispatcher screen, in Vietnamese (the default) and English.
// Keys are flat strings; `{name}` in a text is replaced by t(key, {name: ...}).
// Enum labels use the API's names: `agency.FIRE`, `status.EN_ROUTE`, `kind.LADDER`, ...
// The labels themselves are in messages-vi.js and messages-en.js, the dispatch panel's,
// the reasons' and the unit board's in messages-dispatch-vi.js and messages-dispatch-en.js,
// the public warnings' in messages-warnings-vi.js and messages-warnings-en.js.
import { en as dispatchEn } from './messages-dispatch-en.js';
import { vi as dispatchVi } from './messages-dispatch-vi.js';
import { en } from './messages-en.js';
import { vi } from './messages-vi.js';
import { en as warningsEn } from './messages-warnings-en.js';
import { vi as warningsVi } from './messages-warnings-vi.js';

export const MESSAGES = { vi: { ...vi, ...dispatchVi, ...warningsVi }, en: { ...en, ...dispatchEn, ...warningsEn } };
export const LANGUAGES = ['vi', 'en'];
const STORAGE_KEY = 'icc.lang';

let current = (() => {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(saved) ? saved : 'vi';
  } catch {
    return 'vi';
  }
})();
const listeners = new Set();

export const lang = () => current;

/** The label for `key` in the current language, `{name}` replaced from `params`. */
export function t(key, params) {
  let text = MESSAGES[current][key] ?? MESSAGES.vi[key] ?? key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? params[name] : m));
  return text;
}

/** Whether `key` has a label (used for optional enum and error translations). */
export const has = (key) => key in MESSAGES[current];

/** `prefix.value` translated, or the raw value when there is no label for it. */
export const label = (prefix, value) => (value && has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : value ?? '');

export function setLang(next) {
  if (!LANGUAGES.includes(next) || next === current) return;
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  document.documentElement.lang = next;
  applyStatic(document);
  for (const fn of listeners) fn(next);
}

export const onLangChange = (fn) => listeners.add(fn);

/** Fills every element marked `data-i18n` (text), `data-i18n-placeholder`,
 * `data-i18n-title` or `data-i18n-aria` (aria-label) under `root`. */
export function applyStatic(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}
