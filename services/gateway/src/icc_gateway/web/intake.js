// What the call form looks up while a call is taken: the incidents this call may repeat
// (POST /possible-duplicates, offered to attach the caller to), and the place's premise
// cautions and history (GET /cautions, /place-history), where a supervisor may also enter
// a caution. Every text from the API is shown as text.
import { api } from './api.js';
import { $, h, uuid } from './dom.js';
import { clearFieldErrors, fieldError, fillOptions, parseNumber, showFieldErrors } from './forms.js';
import { label, t } from './i18n.js';
import { typeLabel } from './model.js';
import { clockTime, shortId } from './text.js';

// How long the form's facts must rest before they are looked up.
const DEBOUNCE_MS = 250;
export const CAUTION_KINDS = ['VIOLENCE', 'WEAPONS', 'HAZARDOUS_MATERIALS', 'ANIMAL', 'STRUCTURE', 'ACCESS', 'MEDICAL', 'OTHER'];
// Cautions looked for around an approximate point (a landmark's, a ward's), else at the point.
const APPROX_RADIUS_M = 200;

/** One lookup at a time: a newer one cancels the older, whose answer is then dropped. */
class Latest {
  constructor() {
    this.controller = null;
  }

  async run(fn) {
    if (this.controller) this.controller.abort();
    const controller = new AbortController();
    this.controller = controller;
    try {
      const value = await fn(controller.signal);
      return this.controller === controller ? { value } : null;
    } catch (err) {
      if (err.name === 'AbortError' || this.controller !== controller) return null;
      return { err };
    }
  }

  cancel() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }
}

export class PossibleDuplicates {
  /** @param section the form's duplicates section; ctx: {picture, errorText(err), onAttach(id, button)} */
  constructor(section, ctx) {
    this.section = section;
    this.ctx = ctx;
    this.latest = new Latest();
    this.timer = null;
    this.found = [];
    this.error = null;
    this.dismissed = new Set();
    this.key = '';
  }

  /** Looks again (debounced) for what the form knows: {location, type_code, caller_phone}. */
  check(facts) {
    clearTimeout(this.timer);
    const { location, typeCode, phone } = facts;
    const enough = (location && typeCode) || phone.length >= 3;
    if (!enough) {
      this.clear();
      return;
    }
    const body = {};
    if (location) body.location = { lat: location[0], lon: location[1] };
    if (typeCode) body.type_code = typeCode;
    if (phone) body.caller_phone = phone;
    const key = JSON.stringify(body);
    if (key === this.key) return;
    this.timer = setTimeout(async () => {
      this.key = key;
      const answer = await this.latest.run((signal) => api('/possible-duplicates', { method: 'POST', body, signal }));
      if (!answer) return;
      this.error = answer.err || null;
      this.found = answer.err ? [] : answer.value.duplicates || [];
      this.render();
    }, DEBOUNCE_MS);
  }

  clear() {
    clearTimeout(this.timer);
    this.latest.cancel();
    this.key = '';
    this.found = [];
    this.error = null;
    this.render();
  }

  reset() {
    this.dismissed.clear();
    this.clear();
  }

  render() {
    const s = this.section;
    const shown = this.found.filter((d) => !this.dismissed.has(d.incident));
    if (!shown.length && !this.error) {
      s.hidden = true;
      s.replaceChildren();
      return;
    }
    const parts = [h('h3', { id: 'cf-duplicates-title' }, t('calltake.duplicates'))];
    if (this.error) {
      parts.push(h('p', { class: 'field-error', role: 'alert' }, `${this.ctx.errorText(this.error)} ${t('calltake.duplicates_failed')}`));
    } else {
      parts.push(h('p', { class: 'hint' }, t('calltake.duplicates_hint')));
      parts.push(h('ul', { class: 'duplicate-list' }, shown.map((d) => this.item(d))));
      parts.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            onclick: () => {
              for (const d of shown) this.dismissed.add(d.incident);
              this.render();
            },
          },
          t('calltake.duplicates_new'),
        ),
      );
    }
    s.replaceChildren(...parts);
    s.hidden = false;
  }

  item(d) {
    const inc = this.ctx.picture.incidents.get(d.incident);
    const reasons = d.reasons.map((r) => (r === 'NEARBY' ? t('calltake.dup_nearby', { m: Math.round(d.distance_m) }) : label('calltake.dup_reason', r)));
    const where = inc ? [inc.address, inc.ward].filter(Boolean).join(', ') : '';
    const attach = h('button', { type: 'button', class: 'small primary', dataset: { incident: d.incident } }, t('calltake.attach'));
    attach.addEventListener('click', () => this.ctx.onAttach(d.incident, attach));
    return h(
      'li',
      { dataset: { incident: d.incident } },
      h(
        'div',
        { class: 'dup-head' },
        inc ? h('span', { class: `badge p${inc.priority}` }, `P${inc.priority}`) : null,
        h('strong', null, typeLabel(d.type_code)),
        h('span', { class: 'muted' }, ` · ${shortId(d.incident)} · ${label('state', d.state)}`),
      ),
      where ? h('div', { class: 'where' }, where) : null,
      h('div', { class: 'hint' }, [t('calltake.dup_since', { time: clockTime(d.create_time) }), ...reasons].join(' · ')),
      attach,
    );
  }

  relabel() {
    this.render();
  }
}

export class Premises {
  /** @param section the form's premises section; ctx: {user(), errorText(err), info(text), where() -> {lat, lon, address, ward, approximate} | null} */
  constructor(section, ctx) {
    this.section = section;
    this.ctx = ctx;
    this.cautionsLookup = new Latest();
    this.historyLookup = new Latest();
    this.timer = null;
    this.point = null;
    this.cautions = null;
    this.history = null;
    this.errors = { cautions: null, history: null };
    this.cautionId = uuid();
    this.form = null;
  }

  /** Looks up the cautions and history at `point` ({lat, lon, approximate}), debounced. */
  at(point) {
    clearTimeout(this.timer);
    if (!point) {
      this.clear();
      return;
    }
    this.point = point;
    this.timer = setTimeout(() => this.load(), DEBOUNCE_MS);
  }

  async load() {
    const p = this.point;
    if (!p) return;
    const radius = p.approximate ? APPROX_RADIUS_M : 0;
    const where = `lat=${p.lat.toFixed(6)}&lon=${p.lon.toFixed(6)}`;
    const [cautions, history] = await Promise.all([
      this.cautionsLookup.run((signal) => api(`/cautions?${where}&radius_m=${radius}`, { signal })),
      this.historyLookup.run((signal) => api(`/place-history?${where}`, { signal })),
    ]);
    if (cautions) {
      this.cautions = cautions.err ? null : cautions.value.cautions || [];
      this.errors.cautions = cautions.err || null;
    }
    if (history) {
      this.history = history.err ? null : history.value.history || [];
      this.errors.history = history.err || null;
    }
    if (cautions || history) this.render();
  }

  clear() {
    clearTimeout(this.timer);
    this.cautionsLookup.cancel();
    this.historyLookup.cancel();
    this.point = null;
    this.cautions = null;
    this.history = null;
    this.errors = { cautions: null, history: null };
    this.render();
  }

  render() {
    const s = this.section;
    if (!this.point) {
      s.hidden = true;
      s.replaceChildren();
      this.form = null;
      return;
    }
    // A caution being written survives a redraw (a new lookup, a language switch).
    const keep = this.form && this.form.contains(document.activeElement) ? this.form : null;
    const parts = [h('h3', { id: 'cf-premises-title' }, t('calltake.premises'))];
    if (this.errors.cautions) parts.push(h('p', { class: 'field-error', role: 'alert' }, `${this.ctx.errorText(this.errors.cautions)} ${t('calltake.cautions_failed')}`));
    else if (this.cautions && this.cautions.length) parts.push(h('ul', { class: 'caution-list' }, this.cautions.map((c) => cautionItem(c))));
    else if (this.cautions) parts.push(h('p', { class: 'hint none-cautions' }, t('calltake.cautions_none')));
    if (this.errors.history) parts.push(h('p', { class: 'field-error' }, `${this.ctx.errorText(this.errors.history)} ${t('calltake.history_failed')}`));
    else if (this.history) parts.push(historyLine(this.history));
    if (this.ctx.user() && this.ctx.user().role === 'supervisor') parts.push(keep || this.cautionForm());
    s.replaceChildren(...parts);
    s.hidden = false;
  }

  /** The supervisor's form for a caution at the call's place. */
  cautionForm() {
    const kind = h('select', { id: 'cf-caution-kind', 'aria-describedby': 'cf-caution-kind-err' });
    fillOptions(kind, CAUTION_KINDS, 'calltake.caution_kind', 'OTHER');
    const text = h('textarea', { id: 'cf-caution-text', rows: '2', maxlength: '1000', 'aria-describedby': 'cf-caution-text-err' });
    const radius = h('input', { id: 'cf-caution-radius', inputmode: 'numeric', value: '0', 'aria-describedby': 'cf-caution-radius-err' });
    const until = h('input', { id: 'cf-caution-until', type: 'date', 'aria-describedby': 'cf-caution-until-err' });
    const err = (field, id) => h('small', { id: `${id}-err`, class: 'field-error', dataset: { field, for: id } });
    const field = (id, key, input, name) => h('div', { class: 'field' }, h('label', { for: id }, t(key)), input, err(name, id));
    const send = h('button', { type: 'button', class: 'small primary' }, t('calltake.caution_send'));
    const form = h(
      'details',
      { class: 'caution-form' },
      h('summary', null, t('calltake.caution_add')),
      field('cf-caution-kind', 'calltake.caution_kind_label', kind, 'kind'),
      field('cf-caution-text', 'calltake.caution_text', text, 'text'),
      h('p', { class: 'hint' }, t('calltake.caution_text_hint')),
      h('div', { class: 'pair' }, field('cf-caution-radius', 'calltake.caution_radius', radius, 'radius_m'), field('cf-caution-until', 'calltake.caution_until', until, 'valid_until')),
      h('small', { class: 'field-error', dataset: { field: 'location' } }),
      send,
    );
    send.addEventListener('click', () => this.sendCaution(form, { kind, text, radius, until, send }));
    this.form = form;
    return form;
  }

  async sendCaution(form, { kind, text, radius, until, send }) {
    clearFieldErrors(form);
    const where = this.ctx.where();
    const problems = [];
    if (!text.value.trim()) problems.push(fieldError('text', t('error.required')));
    const r = parseNumber(radius.value) ?? 0;
    if (!Number.isFinite(r) || r < 0 || r > 2000) problems.push(fieldError('radius_m', t('calltake.caution_radius_range')));
    if (!where) problems.push(fieldError('location', t('error.location_required')));
    if (problems.length) {
      showFieldErrors(form, problems);
      return;
    }
    const body = { request_id: this.cautionId, kind: kind.value, text: text.value.trim(), lat: where.lat, lon: where.lon, address: where.address, ward: where.ward, radius_m: r };
    // The end of the chosen day, on the screen's clock.
    if (until.value) body.valid_until = new Date(`${until.value}T23:59:59`).toISOString();
    send.disabled = true;
    try {
      await api('/cautions', { method: 'POST', body });
      this.cautionId = uuid();
      this.ctx.info(t('calltake.caution_saved'));
      this.form = null;
      await this.load();
    } catch (err) {
      const unplaced = err.fields && err.fields.length ? showFieldErrors(form, err.fields) : [];
      const box = $('.field-error[data-field="location"]', form);
      if (!err.fields || !err.fields.length || unplaced.length) box.textContent = [this.ctx.errorText(err), ...unplaced.map((f) => f.description)].join(' ');
    } finally {
      send.disabled = false;
    }
  }

  relabel() {
    if (this.form && !this.form.contains(document.activeElement)) this.form = null;
    this.render();
  }
}

function cautionItem(c) {
  const where = [c.address, c.ward].filter(Boolean).join(', ');
  const meta = [];
  if (where) meta.push(where);
  if (c.radius_m) meta.push(t('calltake.caution_within', { m: Math.round(c.radius_m) }));
  if (c.valid_until) meta.push(t('calltake.caution_until_time', { time: clockTime(c.valid_until) }));
  return h(
    'li',
    { class: `caution kind-${c.kind || 'OTHER'}`, dataset: { id: c.id } },
    h('strong', { class: 'caution-kind' }, label('calltake.caution_kind', c.kind || 'OTHER')),
    h('p', { class: 'caution-text' }, c.text),
    meta.length ? h('small', { class: 'muted' }, meta.join(' · ')) : null,
  );
}

function historyLine(history) {
  const counted = history.filter((x) => x.count > 0);
  const days = history.length ? history[0].days : 30;
  if (!counted.length) return h('p', { class: 'hint history' }, t('calltake.history_none', { days }));
  return h(
    'p',
    { class: 'history' },
    t('calltake.history', { days }),
    ' ',
    counted.flatMap((x, i) => [i ? ' · ' : '', h('strong', null, String(x.count)), ` ${label('calltake.family', x.family)}`]),
  );
}
