// Call taking: the line the call came in on, a searchable type picker (Vietnamese with or
// without diacritics, English, codes), the place searched by name (places.js) or clicked on
// the map, the type's key questions whose answers set the priority live (questions.js), the
// incidents this call may repeat with "attach as another caller", the place's cautions and
// history (intake.js), the caller, and one request_id per form so a double submit creates
// one incident (and one attach id, so a double attach adds one caller).
import { api } from './api.js';
import { $, h, uuid } from './dom.js';
import { clearFieldErrors, fieldError, fillOptions, parseNumber, showFieldErrors } from './forms.js';
import { label, lang, t } from './i18n.js';
import { PossibleDuplicates, Premises } from './intake.js';
import { PRIORITIES, catalog, typeLabel } from './model.js';
import { PlaceBox } from './places.js';
import { KeyQuestions } from './questions.js';
import { indexTypes, searchTypes } from './text.js';

// The languages a caller may speak (each labelled `lang.<code>`), Vietnamese first.
const CALLER_LANGUAGES = ['vi', 'en', 'zh', 'ko', 'other'];
// The lines a call comes in on (labelled `calltake.line.<name>`); 112 transfers to the others.
const CALL_LINES = ['EMERGENCY_112', 'POLICE_113', 'FIRE_114', 'MEDICAL_115', 'PARTNER', 'OTHER'];
// The line an account's agency answers; the command center answers 112.
const AGENCY_LINE = { POLICE: 'POLICE_113', FIRE: 'FIRE_114', MEDICAL: 'MEDICAL_115' };
// The zoom a chosen place is shown at: its streets, and the incidents around it.
const PLACE_ZOOM = 16;
// A new call's priority until its type gives one.
const DEFAULT_PRIORITY = 3;

export class CallForm {
  /** @param panel the call panel; ctx: {map, picture, user(), onCreated(incident),
   * showError(err), errorText(err), info(text)} */
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
    this.line = $('#cf-line', panel);
    this.priorityWhy = $('#cf-priority-why', panel);
    this.phone = $('#cf-caller-phone', panel);
    fillOptions(this.priority, PRIORITIES, 'priority', DEFAULT_PRIORITY);
    fillOptions(this.line, CALL_LINES, 'calltake.line', CALL_LINES[0]);
    fillOptions($('#cf-caller-language', panel), CALLER_LANGUAGES, 'lang', CALLER_LANGUAGES[0]);
    this.index = [];
    this.matches = [];
    this.active = -1;
    this.type = null;
    this.busy = false;
    this.requestId = uuid();
    this.attachId = uuid();
    // Set by the call-taker: then neither the type nor the answers change them.
    this.priorityTouched = false;
    this.lineTouched = false;
    // What the place box last wrote into the address and ward (a typed one is kept).
    this.filled = { address: '', ward: '' };
    this.approximate = false;
    const errorText = ctx.errorText;
    this.places = new PlaceBox(this.form, {
      centre: () => {
        const c = ctx.map.map.getCenter();
        return [c.lat, c.lng];
      },
      onChoose: (place) => this.placeChosen(place),
      errorText,
    });
    this.questions = new KeyQuestions($('#cf-questions', panel), { onChange: () => this.applyOutcome(), errorText });
    this.duplicates = new PossibleDuplicates($('#cf-duplicates', panel), {
      picture: ctx.picture,
      errorText,
      onAttach: (id, button) => this.attach(id, button),
    });
    this.premises = new Premises($('#cf-premises', panel), {
      user: ctx.user,
      errorText,
      info: ctx.info,
      where: () => this.where(),
    });
    this.priority.addEventListener('change', () => {
      this.priorityTouched = true;
      this.applyOutcome();
    });
    this.line.addEventListener('change', () => (this.lineTouched = true));
    this.phone.addEventListener('change', () => this.lookUp());

    this.typeInput.addEventListener('input', () => {
      if (this.type && this.typeInput.value !== typeLabel(this.type.code)) this.choose(null);
      this.search();
    });
    this.typeInput.addEventListener('focus', () => this.search());
    // Closed a moment after the field loses the keyboard (a click on an option lands first),
    // unless it has it again by then: the form hidden and shown again at once (Esc, then F2)
    // must not have its fresh list closed under the call-taker's typing.
    this.typeInput.addEventListener('blur', () =>
      setTimeout(() => {
        if (document.activeElement !== this.typeInput) this.closeList();
      }, 150),
    );
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
    if (!this.lineTouched) this.line.value = this.defaultLine();
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

  /** Selects a type (null clears): fills the input, asks its key questions, and sets the
   * priority (the type's, or what the answers call for). */
  choose(type) {
    const changed = (type && type.code) !== (this.type && this.type.code);
    this.type = type;
    if (changed) this.questions.setType(type ? type.code : null);
    this.applyOutcome();
    if (type) {
      this.typeInput.value = typeLabel(type.code);
      this.renderTypeChosen();
      this.closeList();
      const err = $('.field-error[data-field="type_code"]', this.panel);
      if (err) err.textContent = '';
      this.typeInput.removeAttribute('aria-invalid');
    } else {
      this.chosen.textContent = '';
    }
    if (changed) this.lookUp({ premises: false });
  }

  /** Under the type: who answers it, in words (a raw code is not Vietnamese). */
  renderTypeChosen() {
    const agencies = this.type ? (this.type.agencies || []).map((a) => label('agency', a)).join(', ') : '';
    this.chosen.textContent = agencies ? t('calltake.type_selected', { agencies }) : '';
  }

  /** The priority as the service will set it: the call-taker's, else the most urgent the
   * answers call for, else the type's (the type the answers make it, if they do). */
  applyOutcome() {
    const outcome = this.questions.outcome();
    const becomes = outcome.typeCode && this.type && outcome.typeCode !== this.type.code ? catalog.byCode.get(outcome.typeCode) : null;
    const base = becomes || this.type;
    const why = [];
    if (!this.priorityTouched) {
      if (outcome.priority != null) {
        this.priority.value = String(outcome.priority);
        why.push(t('calltake.priority_from_answers', { p: outcome.priority }));
      } else if (base) {
        this.priority.value = String(base.priority);
      }
    } else {
      why.push(t('calltake.priority_set'));
    }
    if (becomes) why.push(t('calltake.type_becomes', { type: typeLabel(becomes.code) }));
    this.priorityWhy.textContent = why.join(' · ');
  }

  defaultLine() {
    const user = this.ctx.user();
    return (user && AGENCY_LINE[user.agency]) || CALL_LINES[0];
  }

  // --- location ---------------------------------------------------------------------------

  /** A click on the map (or the pin dragged): the point is exact, the place box's name no
   * longer says where the call is. */
  pick(lat, lon) {
    this.setPoint(lat, lon, false);
    if (this.places.chosen) this.places.clear();
  }

  setPoint(lat, lon, approximate) {
    this.lat.value = lat.toFixed(6);
    this.lon.value = lon.toFixed(6);
    this.approximate = approximate;
    this.ctx.map.setPick(lat, lon);
    for (const f of ['lat', 'lon', 'location', 'place']) {
      const err = $(`.field-error[data-field="${f}"]`, this.panel);
      if (err) err.textContent = '';
    }
    for (const input of [this.lat, this.lon]) input.removeAttribute('aria-invalid');
    this.lookUp();
  }

  /** A place chosen in the place box: the call is placed there, its address and ward
   * filled in (unless the call-taker typed their own), the map shows it. */
  placeChosen(place) {
    this.setPoint(place.lat, place.lon, place.approximate);
    this.fill('#cf-address', 'address', place.address || place.label);
    this.fill('#cf-ward', 'ward', place.ward);
    const map = this.ctx.map.map;
    map.setView([place.lat, place.lon], Math.max(map.getZoom(), PLACE_ZOOM), { animate: false });
  }

  fill(selector, key, value) {
    const input = $(selector, this.panel);
    if (input.value.trim() && input.value !== this.filled[key]) return;
    input.value = value || '';
    this.filled[key] = input.value;
  }

  onLatLonTyped() {
    const lat = parseNumber(this.lat.value);
    const lon = parseNumber(this.lon.value);
    if (Number.isFinite(lat) && Number.isFinite(lon)) this.setPoint(lat, lon, false);
  }

  /** The call's point, or null. */
  location() {
    const lat = parseNumber(this.lat.value);
    const lon = parseNumber(this.lon.value);
    return Number.isFinite(lat) && Number.isFinite(lon) ? [lat, lon] : null;
  }

  /** Where a caution entered now would be: the call's point, address and ward. */
  where() {
    const at = this.location();
    if (!at) return null;
    return { lat: at[0], lon: at[1], address: $('#cf-address', this.panel).value.trim(), ward: $('#cf-ward', this.panel).value.trim() };
  }

  /** Looks again for possible duplicates and (unless told not to) the place's cautions
   * and history, with what the form knows now. */
  lookUp({ premises = true } = {}) {
    const location = this.location();
    this.duplicates.check({ location, typeCode: this.type ? this.type.code : '', phone: this.phone.value.trim() });
    if (premises) this.premises.at(location ? { lat: location[0], lon: location[1], approximate: this.approximate } : null);
  }

  // --- another caller about an incident already taken ---------------------------------------

  /** Attaches this call to incident `id` as another caller: no new incident, no dispatch. */
  async attach(id, button) {
    if (this.busy) return;
    this.busy = true;
    button.disabled = true;
    const v = (sel) => $(sel, this.panel).value.trim();
    const body = {
      request_id: this.attachId,
      name: v('#cf-caller-name'),
      phone: v('#cf-caller-phone'),
      language: $('#cf-caller-language', this.panel).value,
      call_line: this.line.value,
    };
    try {
      const reply = await api(`/incidents/${encodeURIComponent(id)}/callers`, { method: 'POST', body });
      this.ctx.info(t('calltake.attached', { id: reply.incident.id.slice(0, 8) }));
      this.reset();
      this.ctx.onCreated(reply.incident);
    } catch (err) {
      // The same attach id stays: trying again cannot add the caller twice.
      const unplaced = err.fields ? showFieldErrors(this.form, err.fields) : [];
      this.ctx.showError(err, unplaced);
    } finally {
      this.busy = false;
      button.disabled = false;
    }
  }

  // --- sending ----------------------------------------------------------------------------

  body() {
    const v = (id) => $(id, this.panel).value.trim();
    const body = {
      request_id: this.requestId,
      type_code: this.type ? this.type.code : '',
      call_line: this.line.value,
      lat: parseNumber(this.lat.value),
      lon: parseNumber(this.lon.value),
      address: v('#cf-address'),
      ward: v('#cf-ward'),
      description: v('#cf-description'),
    };
    const caller = { name: v('#cf-caller-name'), phone: v('#cf-caller-phone'), language: $('#cf-caller-language', this.panel).value };
    if (caller.name || caller.phone) body.caller = caller;
    const answers = this.questions.body();
    if (answers.length) body.answers = answers;
    // Unless the call-taker chose it, the service sets it from the type and the answers,
    // as the form showed.
    if (this.priorityTouched) body.priority = Number(this.priority.value);
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
    this.priorityTouched = false;
    this.lineTouched = false;
    this.line.value = this.defaultLine();
    this.filled = { address: '', ward: '' };
    this.approximate = false;
    this.places.clear();
    this.questions.clear();
    this.choose(null);
    this.duplicates.reset();
    this.premises.clear();
    clearFieldErrors(this.form);
    this.ctx.map.clearPick();
    this.requestId = uuid();
    this.attachId = uuid();
  }

  relabel() {
    if (this.type) this.typeInput.value = typeLabel(this.type.code);
    if (!this.list.hidden) this.renderList();
    this.renderTypeChosen();
    this.places.relabel();
    this.questions.relabel();
    this.applyOutcome();
    this.duplicates.relabel();
    this.premises.relabel();
    this.submit.textContent = t(this.busy ? 'calltake.busy' : 'calltake.submit');
  }
}
