// The public warning's form (warnings.js): its fields, the request body made from them with
// the screen's own checks, and the API's field errors placed under them.
import { h, uuid } from './dom.js';
import { lang, t } from './i18n.js';

const CATEGORIES = ['Met', 'Fire', 'Safety', 'Rescue', 'Transport', 'Health', 'Env', 'Infra', 'Geo', 'Security', 'CBRNE', 'Other'];
const URGENCIES = ['Immediate', 'Expected', 'Future', 'Past', 'Unknown'];
const SEVERITIES = ['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown'];
const CERTAINTIES = ['Observed', 'Likely', 'Possible', 'Unlikely', 'Unknown'];
const SHAPES = ['circle', 'polygon', 'none'];
const LANGS = ['vi', 'en'];
const TEXTS = ['event', 'headline', 'description', 'instruction'];
const DEFAULT_HOURS = 6;

/** A `datetime-local` value for an ISO time (the browser's local time). */
function localOf(date) {
  const d = new Date(date);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** "10.77, 106.70" or "10,77 106,70" per line -> [[lat, lon], ...]; null if a line is not two numbers. */
export function parsePoints(text) {
  const points = [];
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const numbers = line.match(/-?\d+(?:[.,]\d+)?/g) || [];
    if (numbers.length !== 2) return null;
    points.push(numbers.map((n) => Number(n.replace(',', '.'))));
  }
  return points;
}

export const num = (text) => {
  const s = String(text ?? '').trim().replace(',', '.');
  return s === '' ? null : Number(s);
};

/** The form's empty state: a new warning. */
export function blank() {
  const text = () => Object.fromEntries(TEXTS.map((k) => [k, '']));
  return {
    editing: null, // the id of the warning being updated, else null (a new one)
    // One per new warning: sent again after a lost answer, it issues nothing twice.
    request_id: uuid(),
    exercise: false,
    category: 'Met',
    urgency: 'Expected',
    severity: 'Severe',
    certainty: 'Likely',
    vi: text(),
    en: text(),
    expires: localOf(Date.now() + DEFAULT_HOURS * 3600e3),
    area_vi: '',
    area_en: '',
    shape: 'circle',
    lat: '',
    lon: '',
    radius_km: '2',
    points: '',
    wards: [], // chosen
    ward: '', // being typed
    // What the form does not edit, sent back as it was: the areas after the first, and
    // the first area's circles and polygons after its first (an API client may send many).
    kept: { areas: [], circles: [], polygons: [] },
  };
}

/** The form filled from what a warning says now (an update starts from it). */
export function formOf(w) {
  const area = w.areas[0] || { description_vi: '', description_en: '', polygons: [], circles: [], wards: [] };
  const circle = area.circles[0];
  const polygon = area.polygons[0];
  return {
    ...blank(),
    editing: w.id,
    exercise: w.status === 'Exercise',
    category: w.category,
    urgency: w.urgency,
    severity: w.severity,
    certainty: w.certainty,
    vi: { ...w.vi },
    en: { ...w.en },
    expires: localOf(w.expires),
    area_vi: area.description_vi,
    area_en: area.description_en,
    shape: circle ? 'circle' : polygon ? 'polygon' : 'none',
    lat: circle ? String(circle.lat) : '',
    lon: circle ? String(circle.lon) : '',
    radius_km: circle ? String(circle.radius_km) : '2',
    points: polygon ? polygon.map((p) => `${p.lat}, ${p.lon}`).join('\n') : '',
    wards: [...area.wards],
    kept: { areas: w.areas.slice(1), circles: area.circles.slice(circle ? 1 : 0), polygons: area.polygons.slice(circle ? 0 : 1) },
  };
}

/** The request body from the form (`wardNames`: the wards known), or the screen's own
 * errors by field. */
export function requestBody(form, wardNames) {
  const f = form;
  const errors = {};
  const texts = {};
  for (const l of LANGS) {
    texts[l] = Object.fromEntries(TEXTS.map((k) => [k, f[l][k].trim()]));
    for (const k of ['event', 'headline']) if (!texts[l][k]) errors[`${l}.${k}`] = t('error.required');
  }
  if (!f.area_vi.trim()) errors.description_vi = t('error.required');
  if (!f.area_en.trim()) errors.description_en = t('error.required');
  const expires = new Date(f.expires);
  if (!f.expires || Number.isNaN(expires.getTime())) errors.expires = t('error.required');
  const area = { description_vi: f.area_vi.trim(), description_en: f.area_en.trim(), polygons: [], circles: [], wards: [] };
  area.wards = [...f.wards];
  // A ward typed but not yet added counts, if it is one.
  const typed = f.ward.trim();
  if (typed && wardNames.includes(typed) && !area.wards.includes(typed)) area.wards.push(typed);
  else if (typed && !area.wards.includes(typed)) errors.wards = t('warn.err.field.wards');
  if (f.shape === 'circle') {
    const [lat, lon, radius] = [num(f.lat), num(f.lon), num(f.radius_km)];
    if (!Number.isFinite(lat)) errors.lat = t('warn.err.centre');
    if (!Number.isFinite(lon)) errors.lon = t('warn.err.centre');
    if (!Number.isFinite(radius) || radius <= 0) errors.radius_km = t('warn.err.radius');
    area.circles = [{ lat, lon, radius_km: radius }];
  } else if (f.shape === 'polygon') {
    const points = parsePoints(f.points);
    if (!points || points.length < 3) errors.polygons = t('warn.err.polygon');
    else area.polygons = [points.map(([lat, lon]) => ({ lat, lon }))];
  } else if (!area.wards.length && !f.kept.circles.length && !f.kept.polygons.length) {
    errors.wards = t('warn.err.no_area');
  }
  area.circles.push(...f.kept.circles);
  area.polygons.push(...f.kept.polygons);
  const body = {
    category: f.category,
    urgency: f.urgency,
    severity: f.severity,
    certainty: f.certainty,
    vi: texts.vi,
    en: texts.en,
    areas: [area, ...f.kept.areas],
    expires: Number.isNaN(expires.getTime()) ? null : expires.toISOString(),
  };
  return { body, errors };
}

/** The API's field errors under the panel's fields, in the screen's language (the API's own
 * words, which are English, only on the English screen). */
export function fieldErrors(panel, fields) {
  const placed = new Set([...panel.querySelectorAll('.field-error[data-field]')].map((el) => el.dataset.field));
  const errors = {};
  const unplaced = [];
  for (const f of fields || []) {
    // "areas[0].wards[1]" (or "areas.0.wards.1") -> [areas, wards]: a field of the form.
    const parts = (f.field || '').replace(/\[\d+\]/g, '').split('.').filter((p) => p !== 'body' && !/^\d+$/.test(p));
    let name = parts.includes('polygons') ? 'polygons' : null;
    for (let i = 0; !name && i < parts.length; i++) {
      const candidate = parts.slice(i).join('.');
      if (placed.has(candidate)) name = candidate;
    }
    if (!name) {
      unplaced.push(f);
      continue;
    }
    const said = /required|at least 1 character|empty/i.test(f.description || '') ? t('error.required') : t(`warn.err.field.${name.replace(/^(vi|en)\./, '')}`);
    errors[name] = lang() === 'en' && f.description ? `${said} (${f.description})` : said;
  }
  return { errors, unplaced };
}

/** The form of a new warning or of an update (`panel`: the WarningsPanel). */
export function warningForm(panel) {
  const f = panel.form;
  const error = (name) => h('small', { class: 'field-error', id: `wf-err-${name.replace('.', '-')}`, dataset: { field: name }, role: 'alert' }, panel.errors[name] || '');
  const described = (name) => ({ 'aria-describedby': `wf-err-${name.replace('.', '-')}`, 'aria-invalid': panel.errors[name] ? 'true' : null });
  const onInput = (set, redraw = false) => (e) => {
    set(e.target.value);
    if (redraw) panel.draw();
  };
  const input = (id, name, value, set, props = {}) => h('input', { id, value, oninput: onInput(set, props.redraw), ...described(name), ...props, redraw: null });
  const field = (id, caption, control, name) => h('div', { class: 'field' }, h('label', { for: id }, caption), control, error(name));
  const select = (id, values, prefix, value, set, redraw = false) =>
    h(
      'select',
      {
        id,
        onchange: (e) => {
          set(e.target.value);
          if (redraw) panel.render();
        },
      },
      values.map((v) => h('option', { value: v, selected: v === value }, t(`${prefix}.${v}`))),
    );
  const texts = LANGS.map((l) =>
    h(
      'fieldset',
      null,
      h('legend', null, t(`warn.lang.${l}`)),
      field(`wf-${l}-event`, t('warn.event'), input(`wf-${l}-event`, `${l}.event`, f[l].event, (v) => (f[l].event = v)), `${l}.event`),
      field(`wf-${l}-headline`, t('warn.headline'), input(`wf-${l}-headline`, `${l}.headline`, f[l].headline, (v) => (f[l].headline = v)), `${l}.headline`),
      field(`wf-${l}-description`, t('warn.description'), h('textarea', { id: `wf-${l}-description`, rows: 2, value: f[l].description, oninput: onInput((v) => (f[l].description = v)), ...described(`${l}.description`) }), `${l}.description`),
      field(`wf-${l}-instruction`, t('warn.instruction'), h('textarea', { id: `wf-${l}-instruction`, rows: 2, value: f[l].instruction, oninput: onInput((v) => (f[l].instruction = v)), ...described(`${l}.instruction`) }), `${l}.instruction`),
    ),
  );
  const shape =
    f.shape === 'circle'
      ? h(
          'div',
          { class: 'pair three' },
          field('wf-lat', t('calltake.lat'), input('wf-lat', 'lat', f.lat, (v) => (f.lat = v), { inputmode: 'decimal', redraw: true }), 'lat'),
          field('wf-lon', t('calltake.lon'), input('wf-lon', 'lon', f.lon, (v) => (f.lon = v), { inputmode: 'decimal', redraw: true }), 'lon'),
          field('wf-radius', t('warn.radius'), input('wf-radius', 'radius_km', f.radius_km, (v) => (f.radius_km = v), { inputmode: 'decimal', redraw: true }), 'radius_km'),
        )
      : f.shape === 'polygon'
        ? field('wf-points', t('warn.points'), h('textarea', { id: 'wf-points', rows: 4, value: f.points, oninput: onInput((v) => (f.points = v), true), ...described('polygons') }), 'polygons')
        : null;
  return h(
    'form',
    { id: 'warning-form', novalidate: true, autocomplete: 'off', onsubmit: (e) => (e.preventDefault(), panel.submit()) },
    h('h3', null, f.editing ? t('warn.update_title') : t('warn.new_title')),
    f.editing
      ? h('p', { class: 'hint' }, f.exercise ? t('warn.editing_drill') : t('warn.editing'))
      : h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'wf-exercise', checked: f.exercise, onchange: (e) => (f.exercise = e.target.checked) }), ' ', t('warn.exercise')),
    h(
      'div',
      { class: 'pair' },
      field('wf-category', t('warn.category'), select('wf-category', CATEGORIES, 'warn.category', f.category, (v) => (f.category = v)), 'category'),
      field('wf-severity', t('warn.severity'), select('wf-severity', SEVERITIES, 'warn.severity', f.severity, (v) => (f.severity = v)), 'severity'),
      field('wf-urgency', t('warn.urgency'), select('wf-urgency', URGENCIES, 'warn.urgency', f.urgency, (v) => (f.urgency = v)), 'urgency'),
      field('wf-certainty', t('warn.certainty'), select('wf-certainty', CERTAINTIES, 'warn.certainty', f.certainty, (v) => (f.certainty = v)), 'certainty'),
    ),
    texts,
    field('wf-expires', t('warn.expires'), input('wf-expires', 'expires', f.expires, (v) => (f.expires = v), { type: 'datetime-local' }), 'expires'),
    h(
      'fieldset',
      null,
      h('legend', null, t('warn.area')),
      field('wf-area-vi', t('warn.area_vi'), input('wf-area-vi', 'description_vi', f.area_vi, (v) => (f.area_vi = v)), 'description_vi'),
      field('wf-area-en', t('warn.area_en'), input('wf-area-en', 'description_en', f.area_en, (v) => (f.area_en = v)), 'description_en'),
      field('wf-shape', t('warn.shape'), select('wf-shape', SHAPES, 'warn.shape', f.shape, (v) => (f.shape = v), true), 'shape'),
      h('p', { class: 'hint' }, t(`warn.shape_hint.${f.shape}`)),
      f.kept.circles.length + f.kept.polygons.length + f.kept.areas.length
        ? h('p', { class: 'hint', id: 'wf-kept' }, t('warn.kept', { n: f.kept.circles.length + f.kept.polygons.length, areas: f.kept.areas.length }))
        : null,
      shape,
      wardPicker(panel),
    ),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', id: 'wf-submit', class: 'primary', disabled: panel.busy }, t(panel.busy ? 'warn.busy' : f.editing ? 'warn.submit_update' : 'warn.submit')),
      h(
        'button',
        {
          type: 'button',
          id: 'wf-reset',
          onclick: () => {
            panel.form = blank();
            panel.errors = {};
            panel.render();
          },
        },
        t(f.editing ? 'warn.stop_edit' : 'warn.reset'),
      ),
    ),
  );
}

/** Wards by name: typed with the known names offered, added by Enter or the button,
 * each chosen one removable. */
function wardPicker(panel) {
  const f = panel.form;
  const add = () => {
    const name = f.ward.trim();
    if (!name) return;
    if (!panel.wardNames.includes(name)) {
      panel.errors = { ...panel.errors, wards: t('warn.err.field.wards') };
    } else {
      if (!f.wards.includes(name)) f.wards.push(name);
      f.ward = '';
      delete panel.errors.wards;
    }
    panel.render();
    panel.panel.querySelector('#wf-ward')?.focus();
  };
  const remove = (name) => {
    f.wards = f.wards.filter((w) => w !== name);
    panel.render();
    panel.panel.querySelector('#wf-ward')?.focus();
  };
  return h(
    'div',
    { class: 'field' },
    h('label', { for: 'wf-ward' }, t('warn.wards')),
    f.wards.length
      ? h(
          'ul',
          { class: 'ward-chips', 'aria-label': t('warn.wards_chosen') },
          f.wards.map((name) => h('li', null, name, ' ', h('button', { type: 'button', class: 'icon small', 'aria-label': t('warn.ward_remove', { name }), title: t('warn.ward_remove', { name }), onclick: () => remove(name) }, '×'))),
        )
      : null,
    h(
      'div',
      { class: 'ward-add' },
      h('input', {
        id: 'wf-ward',
        list: 'wf-ward-list',
        value: f.ward,
        placeholder: t('warn.wards_placeholder'),
        'aria-describedby': 'wf-err-wards',
        'aria-invalid': panel.errors.wards ? 'true' : null,
        oninput: (e) => (f.ward = e.target.value),
        onkeydown: (e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            add();
          }
        },
      }),
      h('button', { type: 'button', id: 'wf-ward-add', class: 'small', onclick: add }, t('warn.ward_add')),
    ),
    h('datalist', { id: 'wf-ward-list' }, panel.wardNames.map((name) => h('option', { value: name }))),
    h('small', { class: 'field-error', id: 'wf-err-wards', dataset: { field: 'wards' }, role: 'alert' }, panel.errors.wards || ''),
  );
}
