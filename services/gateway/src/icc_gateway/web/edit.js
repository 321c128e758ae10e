// Correcting an incident from its detail: type, priority, location and description, sent as
// PATCH /incidents/{id} with the etag the form was opened at. When someone (or dispatch)
// changed the incident meanwhile, nothing is written and the screen says so in words, with
// a reload; dispatch plans again when the type, priority or place changed.
import { api } from './api.js';
import { h } from './dom.js';
import { clearFieldErrors, fieldError, parseNumber, showFieldErrors } from './forms.js';
import { label, lang, t } from './i18n.js';
import { OPEN_STATES, PRIORITIES, can, catalog, typeLabel } from './model.js';



/** The form's values for an incident (strings, as the inputs hold them). */
function valuesOf(inc) {
  return {
    type_code: inc.type_code || '',
    priority: String(inc.priority),
    address: inc.address || '',
    ward: inc.ward || '',
    lat: inc.lat == null ? '' : String(inc.lat),
    lon: inc.lon == null ? '' : String(inc.lon),
    description: inc.description || '',
  };
}

/** Whether this user may correct this incident now. */
export const canEdit = (d, inc) => !!inc && can(d.ctx.user(), 'call_taker') && OPEN_STATES.has(inc.state);

/** The detail's "Correct" button. */
export function editButton(d, inc) {
  if (!canEdit(d, inc)) return null;
  return h('button', { type: 'button', class: 'small', id: 'edit-open', dataset: { key: 'edit-open' }, title: t('edit.tip'), onclick: () => startEdit(d) }, t('edit.open'));
}

/** Opens the form on the incident as it is now (its etag is what the change is based on). */
export function startEdit(d) {
  const inc = d.incident();
  if (!canEdit(d, inc)) return false;
  d.editing = { base: valuesOf(inc), values: valuesOf(inc), etag: inc.etag, stale: false, busy: false };
  d.render();
  d.panel.querySelector('#edit-type')?.focus();
  return true;
}

export function stopEdit(d) {
  d.editing = null;
  d.errors.delete('edit-form');
  d.render();
}

/** The incident's types for a select, grouped by family, in the screen's language. */
function typeOptions(selected) {
  const byFamily = new Map();
  for (const type of catalog.types) {
    const family = type.family || type.code.split('.')[0];
    if (!byFamily.has(family)) byFamily.set(family, []);
    byFamily.get(family).push(type);
  }
  const en = lang() === 'en';
  return [...byFamily].map(([family, types]) =>
    h(
      'optgroup',
      { label: label('family', family) },
      types
        .slice()
        .sort((a, b) => (en ? a.label_en : a.label_vi).localeCompare(en ? b.label_en : b.label_vi, lang()))
        .map((type) => h('option', { value: type.code, selected: type.code === selected }, `P${type.priority} · ${typeLabel(type.code)}`)),
    ),
  );
}

/** The form in place of the detail's summary. */
export function editForm(d, inc) {
  const e = d.editing;
  const v = e.values;
  const bind = (el, key) => {
    el.addEventListener(el.tagName === 'SELECT' ? 'change' : 'input', () => (v[key] = el.value));
    return el;
  };
  const field = (id, key, caption, el, errField = key) =>
    h('div', { class: 'field' }, h('label', { for: id }, caption), bind(el, key), h('small', { class: 'field-error', id: `${id}-err`, dataset: { field: errField, for: id } }));
  const input = (id, key, extra = {}) => h('input', { id, value: v[key], dataset: { key: id }, 'aria-describedby': `${id}-err`, ...extra });
  return h(
    'form',
    { id: 'edit-form', class: 'edit-form', 'aria-labelledby': 'edit-title', onsubmit: (ev) => (ev.preventDefault(), save(d, ev.submitter)) },
    h('h3', { id: 'edit-title' }, t('edit.title')),
    e.stale
      ? h(
          'div',
          { class: 'stale', role: 'alert' },
          h('p', null, t('edit.stale')),
          h('button', { type: 'button', class: 'small', dataset: { key: 'edit-reload' }, onclick: () => reload(d) }, t('edit.reload')),
        )
      : null,
    field('edit-type', 'type_code', t('calltake.type'), h('select', { id: 'edit-type', dataset: { key: 'edit-type' }, 'aria-describedby': 'edit-type-err' }, typeOptions(v.type_code))),
    h(
      'div',
      { class: 'pair' },
      field('edit-priority', 'priority', t('calltake.priority'), h('select', { id: 'edit-priority', dataset: { key: 'edit-priority' } }, PRIORITIES.map((p) => h('option', { value: String(p), selected: String(p) === v.priority }, label('priority', p))))),
      field('edit-ward', 'ward', t('calltake.ward'), input('edit-ward', 'ward')),
    ),
    field('edit-address', 'address', t('calltake.address'), input('edit-address', 'address')),
    h(
      'div',
      { class: 'pair' },
      field('edit-lat', 'lat', t('calltake.lat'), input('edit-lat', 'lat', { inputmode: 'decimal' })),
      field('edit-lon', 'lon', t('calltake.lon'), input('edit-lon', 'lon', { inputmode: 'decimal' })),
    ),
    h('small', { class: 'field-error', id: 'edit-location-err', dataset: { field: 'location', for: 'edit-lat' } }),
    field('edit-description', 'description', t('calltake.description'), h('textarea', { id: 'edit-description', rows: '2', value: v.description, dataset: { key: 'edit-description' } })),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', class: 'primary', id: 'edit-save', disabled: e.busy || e.stale, dataset: { key: 'edit-save' } }, t(e.busy ? 'calltake.busy' : 'edit.save')),
      h('button', { type: 'button', dataset: { key: 'edit-cancel' }, onclick: () => stopEdit(d) }, t('edit.cancel')),
    ),
  );
}

/** The PATCH body: the etag and only what the dispatcher changed (the location as a whole). */
export function changes(e) {
  const { base, values: v } = e;
  const changed = (k) => v[k].trim() !== base[k].trim();
  const body = { etag: e.etag };
  if (changed('type_code')) body.type_code = v.type_code;
  if (changed('priority')) body.priority = Number(v.priority);
  if (['address', 'ward', 'lat', 'lon'].some(changed)) {
    body.location = { lat: parseNumber(v.lat), lon: parseNumber(v.lon), address: v.address.trim(), ward: v.ward.trim() };
  }
  if (changed('description')) body.description = v.description.trim();
  return body;
}

async function save(d, button) {
  const e = d.editing;
  const form = d.panel.querySelector('#edit-form');
  clearFieldErrors(form);
  d.errors.delete('edit-form');
  const body = changes(e);
  if (Object.keys(body).length === 1) {
    stopEdit(d);
    d.ctx.info(t('edit.nothing'));
    return;
  }
  if (body.location) {
    const bad = ['lat', 'lon'].filter((k) => !Number.isFinite(body.location[k]));
    if (!d.check('edit-form', bad.map((k) => fieldError(k, t('error.location_required'))))) return;
  }
  const id = d.id;
  e.busy = true;
  if (button) button.disabled = true;
  try {
    await api(`/incidents/${id}`, { method: 'PATCH', body });
    if (d.id !== id) return;
    d.editing = null;
    d.ctx.info(t('edit.saved'));
    await d.refresh();
  } catch (err) {
    if (d.id !== id || d.editing !== e) return;
    e.busy = false;
    if (err.status === 409) {
      // Someone changed the incident since the form was opened: nothing was written.
      e.stale = true;
      d.render();
      d.panel.querySelector('[data-key="edit-reload"]')?.focus();
      return;
    }
    d.render();
    const shown = d.panel.querySelector('#edit-form');
    if (err.fields) d.errors.set('edit-form', err.fields);
    const unplaced = err.fields && shown ? showFieldErrors(shown, err.fields) : err.fields || [];
    d.ctx.showError(err, unplaced);
  }
}

/** Reads the incident again and starts the form over from it (the new etag). */
async function reload(d) {
  await d.refresh();
  if (d.editing) d.editing = null;
  startEdit(d);
  d.ctx.info(t('edit.reloaded'));
}


