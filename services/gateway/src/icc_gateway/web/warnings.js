// Public warnings (CAP 1.2), for supervisors only: the current ones listed, one issued,
// updated or cancelled (/api/v1/warnings). A warning's area is a circle (its centre placed
// by a click on the map, or typed), a polygon (its points added by clicks, or typed one per
// line) and/or wards by name; what is drawn is shown on the map while the panel is open.
// Everything a person wrote is shown as text (dom.js), never as HTML.
import { api } from './api.js';
import { h, uuid } from './dom.js';
import { label, lang, t } from './i18n.js';
import { clockTime } from './text.js';

const CATEGORIES = ['Met', 'Fire', 'Safety', 'Rescue', 'Transport', 'Health', 'Env', 'Infra', 'Geo', 'Security', 'CBRNE', 'Other'];
const URGENCIES = ['Immediate', 'Expected', 'Future', 'Past', 'Unknown'];
const SEVERITIES = ['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown'];
const CERTAINTIES = ['Observed', 'Likely', 'Possible', 'Unlikely', 'Unknown'];
const SHAPES = ['circle', 'polygon', 'none'];
const LANGS = ['vi', 'en'];
const TEXTS = ['event', 'headline', 'description', 'instruction'];
const DRAWN = { color: '#f97316', weight: 2, fillOpacity: 0.12, interactive: false };
// The warnings in force, under what is being drawn (a drill's in another colour).
const IN_FORCE = { color: '#ef4444', weight: 1, dashArray: '4 4', fillOpacity: 0.05, interactive: false };
const DRILL = { ...IN_FORCE, color: '#60a5fa' };
const DEFAULT_HOURS = 6;

/** A `datetime-local` value for an ISO time (the browser's local time). */
function localOf(date) {
  const d = new Date(date);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** "10.77, 106.70" or "10,77 106,70" per line -> [[lat, lon], ...]; null if a line is not two numbers. */
function parsePoints(text) {
  const points = [];
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const numbers = line.match(/-?\d+(?:[.,]\d+)?/g) || [];
    if (numbers.length !== 2) return null;
    points.push(numbers.map((n) => Number(n.replace(',', '.'))));
  }
  return points;
}

const num = (text) => {
  const s = String(text ?? '').trim().replace(',', '.');
  return s === '' ? null : Number(s);
};

/** The form's empty state: a new warning. */
function blank() {
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

export class WarningsPanel {
  /** ctx: {map (CityMap), info(text), showError(err), errorText(err), onClose()} */
  constructor(panel, ctx) {
    this.panel = panel;
    this.ctx = ctx;
    this.warnings = [];
    this.form = blank();
    this.errors = {}; // data-field -> the sentence shown under it
    this.confirming = null; // the id of a warning whose cancellation waits for confirmation
    this.busy = false;
    this.layer = null;
    this.wardNames = []; // GET /warning-wards, once
  }

  get visible() {
    return !this.panel.hidden;
  }

  show() {
    this.panel.hidden = false;
    this.ctx.map.setPicking(true);
    this.render();
    this.load();
  }

  hide() {
    this.panel.hidden = true;
    this.ctx.map.setPicking(false);
    if (this.layer) this.layer.clearLayers();
  }

  focus() {
    this.panel.querySelector('#wf-vi-headline')?.focus();
  }

  async load() {
    try {
      if (!this.wardNames.length) this.wardNames = (await api('/warning-wards')).wards || [];
      const reply = await api('/warnings');
      this.warnings = reply.warnings || [];
    } catch (err) {
      this.ctx.showError(err);
    }
    this.render();
  }

  /** A click on the map: the circle's centre, or the polygon's next point. */
  pick(lat, lon) {
    const f = this.form;
    const fixed = (x) => x.toFixed(5);
    if (f.shape === 'circle') {
      f.lat = fixed(lat);
      f.lon = fixed(lon);
    } else if (f.shape === 'polygon') {
      f.points = `${f.points.trim()}\n${fixed(lat)}, ${fixed(lon)}`.trim();
    } else {
      return;
    }
    this.render();
  }

  /** The warnings in force and the circle or polygon being drawn, on the map. */
  draw() {
    const map = this.ctx.map.map;
    if (!this.layer) this.layer = L.layerGroup().addTo(map);
    this.layer.clearLayers();
    for (const w of this.warnings) {
      if (w.cancelled || w.id === this.form.editing) continue;
      const style = w.status === 'Exercise' ? DRILL : IN_FORCE;
      for (const a of w.areas) {
        for (const c of a.circles) L.circle([c.lat, c.lon], { ...style, radius: c.radius_km * 1000 }).addTo(this.layer);
        for (const p of a.polygons) L.polygon(p.map((x) => [x.lat, x.lon]), style).addTo(this.layer);
      }
    }
    const f = this.form;
    if (f.shape === 'circle') {
      const [lat, lon, r] = [num(f.lat), num(f.lon), num(f.radius_km)];
      if ([lat, lon, r].every((x) => Number.isFinite(x)) && r > 0) L.circle([lat, lon], { ...DRAWN, radius: r * 1000 }).addTo(this.layer);
    } else if (f.shape === 'polygon') {
      const points = parsePoints(f.points);
      if (points && points.length >= 2) L.polygon(points, DRAWN).addTo(this.layer);
    }
    // What an update keeps as it was is part of the warning too.
    const kept = [{ circles: f.kept.circles, polygons: f.kept.polygons }, ...f.kept.areas];
    for (const a of kept) {
      for (const c of a.circles) L.circle([c.lat, c.lon], { ...DRAWN, radius: c.radius_km * 1000 }).addTo(this.layer);
      for (const p of a.polygons) L.polygon(p.map((x) => [x.lat, x.lon]), DRAWN).addTo(this.layer);
    }
  }

  /** The request body from the form, or the screen's own errors by field. */
  body() {
    const f = this.form;
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
    if (typed && this.wardNames.includes(typed) && !area.wards.includes(typed)) area.wards.push(typed);
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

  /** The API's field errors under their fields, in the screen's language (the API's own
   * words, which are English, only on the English screen). */
  apiErrors(fields) {
    const placed = new Set([...this.panel.querySelectorAll('.field-error[data-field]')].map((el) => el.dataset.field));
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

  async submit() {
    const { body, errors } = this.body();
    this.errors = errors;
    if (Object.keys(errors).length) {
      this.render();
      this.panel.querySelector('[aria-invalid="true"]')?.focus();
      return;
    }
    const editing = this.form.editing;
    this.busy = true;
    this.render();
    try {
      if (editing) {
        await api(`/warnings/${encodeURIComponent(editing)}`, { method: 'PUT', body });
      } else {
        await api('/warnings', { method: 'POST', body: { ...body, request_id: this.form.request_id, exercise: this.form.exercise } });
      }
      this.ctx.info(t(editing ? 'warn.updated' : 'warn.issued'));
      this.form = blank();
      this.errors = {};
      await this.load();
    } catch (err) {
      const { errors: placed, unplaced } = this.apiErrors(err.fields);
      this.errors = placed;
      this.ctx.showError(err, unplaced.map((f) => ({ field: f.field, description: lang() === 'en' ? f.description : t('warn.err.field.other') })));
      this.busy = false;
      this.render();
      this.panel.querySelector('[aria-invalid="true"]')?.focus();
      return;
    } finally {
      this.busy = false;
    }
    this.render();
  }

  async cancel(id) {
    if (this.confirming !== id) {
      this.confirming = id;
      this.render();
      this.panel.querySelector(`button[data-confirm="${CSS.escape(id)}"]`)?.focus();
      return;
    }
    this.confirming = null;
    try {
      await api(`/warnings/${encodeURIComponent(id)}/cancel`, { method: 'POST', body: {} });
      this.ctx.info(t('warn.cancelled_done'));
      if (this.form.editing === id) this.form = blank();
    } catch (err) {
      this.ctx.showError(err);
    }
    await this.load();
  }

  /** Starts an update from what the warning says now. */
  edit(w) {
    const area = w.areas[0] || { description_vi: '', description_en: '', polygons: [], circles: [], wards: [] };
    const circle = area.circles[0];
    const polygon = area.polygons[0];
    this.form = {
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
    this.errors = {};
    this.render();
    this.focus();
  }

  render() {
    if (this.panel.hidden) return;
    const active = this.panel.contains(document.activeElement) ? document.activeElement.id : null;
    this.panel.replaceChildren(
      h(
        'header',
        { class: 'panel-head' },
        h('h2', { id: 'warnings-title' }, t('warn.title')),
        h('button', { type: 'button', class: 'icon', 'aria-label': t('panel.close'), title: t('panel.close'), onclick: () => this.ctx.onClose() }, '×'),
      ),
      this.list(),
      this.formView(),
    );
    if (active) this.panel.querySelector(`#${CSS.escape(active)}`)?.focus();
    this.draw();
  }

  list() {
    const items = this.warnings.map((w) => {
      const headline = lang() === 'en' ? w.headline_en : w.headline_vi;
      const tags = [
        w.status === 'Exercise' ? h('span', { class: 'warn-tag drill' }, t('warn.drill')) : null,
        w.cancelled ? h('span', { class: 'warn-tag cancelled' }, t('warn.cancelled')) : null,
      ];
      const confirming = this.confirming === w.id;
      return h(
        'li',
        { class: 'warning', dataset: { id: w.id } },
        h('div', { class: 'warning-head' }, tags, h('strong', { class: 'warning-headline' }, headline)),
        h(
          'p',
          { class: 'muted' },
          [label('warn.severity', w.severity), label('warn.urgency', w.urgency), label('warn.certainty', w.certainty)].join(' · '),
          h('br'),
          t('warn.until', { time: clockTime(w.expires) }),
          ' · ',
          t('warn.messages', { n: w.messages.length }),
        ),
        w.cancelled
          ? null
          : h(
              'div',
              { class: 'form-actions' },
              h('button', { type: 'button', class: 'small', onclick: () => this.edit(w) }, t('warn.edit')),
              h('button', { type: 'button', class: `small${confirming ? ' danger' : ''}`, dataset: confirming ? { confirm: w.id } : {}, onclick: () => this.cancel(w.id) }, t(confirming ? 'warn.cancel_confirm' : 'warn.cancel')),
            ),
      );
    });
    return h(
      'section',
      { class: 'warnings-list', 'aria-labelledby': 'warnings-current' },
      h('h3', { id: 'warnings-current' }, t('warn.current')),
      items.length ? h('ul', { class: 'warnings' }, items) : h('p', { class: 'empty' }, t('warn.none')),
    );
  }

  formView() {
    const f = this.form;
    const error = (name) => h('small', { class: 'field-error', id: `wf-err-${name.replace('.', '-')}`, dataset: { field: name }, role: 'alert' }, this.errors[name] || '');
    const described = (name) => ({ 'aria-describedby': `wf-err-${name.replace('.', '-')}`, 'aria-invalid': this.errors[name] ? 'true' : null });
    const onInput = (set, redraw = false) => (e) => {
      set(e.target.value);
      if (redraw) this.draw();
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
            if (redraw) this.render();
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
      { id: 'warning-form', novalidate: true, autocomplete: 'off', onsubmit: (e) => (e.preventDefault(), this.submit()) },
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
        this.wardPicker(),
      ),
      h(
        'div',
        { class: 'form-actions' },
        h('button', { type: 'submit', id: 'wf-submit', class: 'primary', disabled: this.busy }, t(this.busy ? 'warn.busy' : f.editing ? 'warn.submit_update' : 'warn.submit')),
        h(
          'button',
          {
            type: 'button',
            id: 'wf-reset',
            onclick: () => {
              this.form = blank();
              this.errors = {};
              this.render();
            },
          },
          t(f.editing ? 'warn.stop_edit' : 'warn.reset'),
        ),
      ),
    );
  }

  /** Wards by name: typed with the known names offered, added by Enter or the button,
   * each chosen one removable. */
  wardPicker() {
    const f = this.form;
    const add = () => {
      const name = f.ward.trim();
      if (!name) return;
      if (!this.wardNames.includes(name)) {
        this.errors = { ...this.errors, wards: t('warn.err.field.wards') };
      } else {
        if (!f.wards.includes(name)) f.wards.push(name);
        f.ward = '';
        delete this.errors.wards;
      }
      this.render();
      this.panel.querySelector('#wf-ward')?.focus();
    };
    const remove = (name) => {
      f.wards = f.wards.filter((w) => w !== name);
      this.render();
      this.panel.querySelector('#wf-ward')?.focus();
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
          'aria-invalid': this.errors.wards ? 'true' : null,
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
      h('datalist', { id: 'wf-ward-list' }, this.wardNames.map((name) => h('option', { value: name }))),
      h('small', { class: 'field-error', id: 'wf-err-wards', dataset: { field: 'wards' }, role: 'alert' }, this.errors.wards || ''),
    );
  }

  relabel() {
    this.render();
  }
}
