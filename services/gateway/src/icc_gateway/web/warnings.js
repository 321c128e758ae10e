// Public warnings (CAP 1.2), for supervisors only: the current ones listed, one issued,
// updated or cancelled (/api/v1/warnings). A warning's area is a circle (its centre placed
// by a click on the map, or typed), a polygon (its points added by clicks, or typed one per
// line) and/or wards by name; what is drawn is shown on the map while the panel is open.
// Everything a person wrote is shown as text (dom.js), never as HTML.
import { api } from './api.js';
import { h } from './dom.js';
import { label, lang, t } from './i18n.js';
import { clockTime } from './text.js';
import { blank, fieldErrors, formOf, num, parsePoints, requestBody, warningForm } from './warnings-form.js';

const DRAWN = { color: '#f97316', weight: 2, fillOpacity: 0.12, interactive: false };
// The warnings in force, under what is being drawn (a drill's in another colour).
const IN_FORCE = { color: '#ef4444', weight: 1, dashArray: '4 4', fillOpacity: 0.05, interactive: false };
const DRILL = { ...IN_FORCE, color: '#60a5fa' };

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
    return requestBody(this.form, this.wardNames);
  }

  /** The API's field errors under their fields (warnings-form.js). */
  apiErrors(fields) {
    return fieldErrors(this.panel, fields);
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
      this.ctx.showError(err, unplaced.map((f) => ({ field: f.field, description: lang() === 'en' ? f.description : t('warn.err.field.other'), translated: true })));
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
    this.form = formOf(w);
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
    return warningForm(this);
  }

  relabel() {
    this.render();
  }
}
