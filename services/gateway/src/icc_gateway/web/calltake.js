// Call taking: a searchable type picker (Vietnamese with or without diacritics, English, codes),
// priority from the type, location by address and a click on the map, the caller, and one
// request_id per form so a double submit creates one incident.
import { api } from './api.js';
import { $, h, uuid } from './dom.js';
import { clearFieldErrors, fieldError, fillOptions, parseNumber, showFieldErrors } from './forms.js';
import { lang, t } from './i18n.js';
import { PRIORITIES, typeLabel } from './model.js';
import { indexTypes, searchTypes } from './text.js';

// The languages a caller may speak (each labelled `lang.<code>`), Vietnamese first.
const CALLER_LANGUAGES = ['vi', 'en', 'zh', 'ko', 'other'];
// A new call's priority until its type gives one.
const DEFAULT_PRIORITY = 3;

export class CallForm {
  /** @param panel the call panel; ctx: {map, onCreated(incident), showError(err), info(text)} */
  constructor(panel, ctx) {
    this.panel = panel;
    this.ctx = ctx;
    this.form = $('#call-form', panel);
    this.typeInput = $('#cf-type', panel);
    this.list = $('#cf-type-list', panel);
    this.chosen = $('#cf-type-chosen', panel);
    this.priority = $('#cf-priority', panel);
    this.lat = $('#cf-lat', panel);
    this.lon = $('#cf-lon', panel);
    this.submit = $('#cf-submit', panel);
    fillOptions(this.priority, PRIORITIES, 'priority', DEFAULT_PRIORITY);
    fillOptions($('#cf-caller-language', panel), CALLER_LANGUAGES, 'lang', CALLER_LANGUAGES[0]);
    this.index = [];
    this.matches = [];
    this.active = -1;
    this.type = null;
    this.busy = false;
    this.requestId = uuid();

    this.typeInput.addEventListener('input', () => {
      if (this.type && this.typeInput.value !== typeLabel(this.type.code)) this.choose(null);
      this.search();
    });
    this.typeInput.addEventListener('focus', () => this.search());
    this.typeInput.addEventListener('blur', () => setTimeout(() => this.closeList(), 150));
    this.typeInput.addEventListener('keydown', (e) => this.onKey(e));
    for (const input of [this.lat, this.lon]) input.addEventListener('change', () => this.onLatLonTyped());
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    $('#cf-reset', panel).addEventListener('click', () => this.reset());
  }

  setTypes(types) {
    this.index = indexTypes(types);
  }

  show() {
    this.panel.hidden = false;
    this.ctx.map.setPicking(true);
    if (this.lat.value && this.lon.value) this.ctx.map.setPick(parseNumber(this.lat.value), parseNumber(this.lon.value));
    this.typeInput.focus();
  }

  hide() {
    this.panel.hidden = true;
    this.closeList();
    this.ctx.map.setPicking(false);
  }

  get visible() {
    return !this.panel.hidden;
  }

  // --- the type picker (combobox) -------------------------------------------------------

  search() {
    this.matches = searchTypes(this.index, this.type ? '' : this.typeInput.value, 12, lang());
    this.active = this.matches.length ? 0 : -1;
    this.renderList();
  }

  renderList() {
    const en = lang() === 'en';
    if (!this.matches.length) {
      this.list.replaceChildren(h('li', { class: 'none', role: 'option', 'aria-disabled': 'true' }, t('calltake.type_none')));
    } else {
      this.list.replaceChildren(
        ...this.matches.map((type, i) =>
          h(
            'li',
            {
              id: `cf-type-opt-${i}`,
              role: 'option',
              class: i === this.active ? 'active' : '',
              'aria-selected': i === this.active ? 'true' : 'false',
              dataset: { code: type.code },
              onmousedown: (e) => {
                e.preventDefault();
                this.choose(type);
              },
            },
            h('span', { class: `badge p${type.priority}` }, `P${type.priority}`),
            h('span', { class: 'opt-label' }, en ? type.label_en : type.label_vi),
            h('small', null, `${en ? type.label_vi : type.label_en} · ${type.code}`),
          ),
        ),
      );
    }
    this.list.hidden = false;
    this.typeInput.setAttribute('aria-expanded', 'true');
    if (this.active >= 0) this.typeInput.setAttribute('aria-activedescendant', `cf-type-opt-${this.active}`);
    else this.typeInput.removeAttribute('aria-activedescendant');
  }

  closeList() {
    this.list.hidden = true;
    this.typeInput.setAttribute('aria-expanded', 'false');
    this.typeInput.removeAttribute('aria-activedescendant');
  }

  onKey(e) {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (this.list.hidden) this.search();
      const n = this.matches.length;
      if (!n) return;
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.renderList();
      $(`#cf-type-opt-${this.active}`, this.list)?.scrollIntoView({ block: 'nearest' });
    } else if (e.key === 'Enter') {
      if (!this.list.hidden && this.active >= 0) {
        e.preventDefault();
        this.choose(this.matches[this.active]);
      }
    } else if (e.key === 'Escape') {
      this.closeList();
    }
  }

  /** Selects a type (null clears): fills the input and the type's default priority. */
  choose(type) {
    this.type = type;
    if (type) {
      this.typeInput.value = typeLabel(type.code);
      this.priority.value = String(type.priority);
      this.chosen.textContent = t('calltake.type_selected', { code: type.code });
      this.closeList();
      const err = $('.field-error[data-field="type_code"]', this.panel);
      if (err) err.textContent = '';
      this.typeInput.removeAttribute('aria-invalid');
    } else {
      this.chosen.textContent = '';
    }
  }

  // --- location ---------------------------------------------------------------------------

  /** A click on the map (or the pin dragged). */
  pick(lat, lon) {
    this.lat.value = lat.toFixed(6);
    this.lon.value = lon.toFixed(6);
    this.ctx.map.setPick(lat, lon);
    for (const f of ['lat', 'lon', 'location']) {
      const err = $(`.field-error[data-field="${f}"]`, this.panel);
      if (err) err.textContent = '';
    }
  }

  onLatLonTyped() {
    const lat = parseNumber(this.lat.value);
    const lon = parseNumber(this.lon.value);
    if (Number.isFinite(lat) && Number.isFinite(lon)) this.ctx.map.setPick(lat, lon);
  }

  // --- sending ----------------------------------------------------------------------------

  body() {
    const v = (id) => $(id, this.panel).value.trim();
    const body = {
      request_id: this.requestId,
      type_code: this.type ? this.type.code : '',
      priority: Number(this.priority.value),
      lat: parseNumber(this.lat.value),
      lon: parseNumber(this.lon.value),
      address: v('#cf-address'),
      ward: v('#cf-ward'),
      description: v('#cf-description'),
    };
    const caller = { name: v('#cf-caller-name'), phone: v('#cf-caller-phone'), language: $('#cf-caller-language', this.panel).value };
    if (caller.name || caller.phone) body.caller = caller;
    return body;
  }

  check(body) {
    const out = [];
    if (!body.type_code) out.push(fieldError('type_code', t('error.type_required')));
    if (body.lat == null || !Number.isFinite(body.lat)) out.push(fieldError('lat', t('error.location_required')));
    if (body.lon == null || !Number.isFinite(body.lon)) out.push(fieldError('lon', t('error.location_required')));
    return out;
  }

  async send() {
    if (this.busy) return;
    clearFieldErrors(this.form);
    const body = this.body();
    const problems = this.check(body);
    if (problems.length) {
      showFieldErrors(this.form, problems);
      return;
    }
    this.busy = true;
    this.submit.disabled = true;
    this.submit.textContent = t('calltake.busy');
    try {
      const reply = await api('/incidents', { method: 'POST', body });
      const incident = reply.incident;
      this.ctx.info(t('calltake.created', { id: incident.id.slice(0, 8) }));
      this.reset();
      this.ctx.onCreated(incident);
    } catch (err) {
      // The same request_id stays: sending again cannot create a second incident.
      const unplaced = err.fields ? showFieldErrors(this.form, err.fields) : [];
      this.ctx.showError(err, unplaced);
    } finally {
      this.busy = false;
      this.submit.disabled = false;
      this.submit.textContent = t('calltake.submit');
    }
  }

  /** Empties the form for the next call, with a new request_id. */
  reset() {
    this.form.reset();
    this.choose(null);
    clearFieldErrors(this.form);
    this.ctx.map.clearPick();
    this.requestId = uuid();
  }

  relabel() {
    if (this.type) this.typeInput.value = typeLabel(this.type.code);
    if (!this.list.hidden) this.renderList();
    this.submit.textContent = t(this.busy ? 'calltake.busy' : 'calltake.submit');
  }
}
