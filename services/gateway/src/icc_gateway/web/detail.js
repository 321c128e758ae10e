// The incident detail panel: header and timers, the tabs (dispatch: detail-dispatch.js;
// chronology, notes and for supervisors the trace timeline: detail-records.js), and the
// dispatcher's actions.
// Rendered from fetched data and this.form (what the user typed), so a live refresh never
// loses input; actions are shown only to the roles allowed to use them.
import { ApiError, api } from './api.js';
import { dispatchTab, overrideRows, tickWelfare } from './detail-dispatch.js';
import { chronologyTab, notesTab, timelineTab } from './detail-records.js';
import { h, uuid } from './dom.js';
import { editButton, editForm } from './edit.js';
import { clearFieldErrors, fieldError, showFieldErrors } from './forms.js';
import { label, t } from './i18n.js';
import { OPEN_STATES, can, typeLabel } from './model.js';
import { timerTips, timerValues } from './queue.js';
import { clockTime, ms, shortId } from './text.js';

const TABS = ['dispatch', 'chronology', 'notes', 'timeline'];
// The override's list of available units is asked again at most this often (ms) while
// the panel refreshes on its own; after the dispatcher acts or changes the list, at once.
const AVAILABLE_EVERY_MS = 10_000;
const emptyForm = () => ({ selected: new Set(), seen: new Set(), overrideUnit: '', overrideReason: '', overrideKind: '', overrideShown: 0, releaseReason: '', resolution: '', note: '', status: new Map() });

export class IncidentDetail {
  /** ctx: {user(), picture, map, showError(err, unplaced), info(text), onHide()} */
  constructor(panel, ctx) {
    this.panel = panel;
    this.ctx = ctx;
    this.id = null;
    this.tab = 'dispatch';
    this.data = {};
    this.form = emptyForm();
    // Field errors shown in the panel's forms (form id -> fields), shown again after a
    // live refresh redraws the panel, until that form is sent again.
    this.errors = new Map();
    this.generation = 0;
    this.refreshTimer = null;
    this.timerNodes = null;
    this.welfareNodes = [];
    this.availableAt = 0;
    // The correction form's state while it is open (edit.js), else null.
    this.editing = null;
  }

  get visible() {
    return !this.panel.hidden && this.id != null;
  }

  async open(id) {
    if (id !== this.id) {
      this.id = id;
      this.data = {};
      this.form = emptyForm();
      this.availableAt = 0;
      this.endedAt = null;
      this.errors.clear();
      this.editing = null;
      if (this.tab === 'timeline' && !can(this.ctx.user(), 'supervisor')) this.tab = 'dispatch';
    }
    this.panel.hidden = false;
    this.render();
    await this.refresh();
  }

  hide() {
    this.panel.hidden = true;
    this.id = null;
    this.data = {};
    this.editing = null;
    clearTimeout(this.refreshTimer);
    this.ctx.onHide();
  }

  /** The incident or one of its units changed: refresh soon (changes come in bursts). */
  notify() {
    if (!this.visible) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh(), 250);
  }

  /** Fetches what the open tab shows; responses for an incident no longer open are dropped. */
  async refresh(force = false) {
    const id = this.id;
    if (!id) return;
    const gen = ++this.generation;
    const quiet = (p) => p.catch((e) => (e instanceof ApiError ? e : Promise.reject(e)));
    const jobs = { incident: api(`/incidents/${id}`) };
    const known = this.ctx.picture.incidents.get(id) || (this.data.incident && this.data.incident.incident);
    const open = !known || OPEN_STATES.has(known.state);
    jobs.dispatch = quiet(api(`/incidents/${id}/dispatch`));
    if (open && can(this.ctx.user(), 'dispatcher')) {
      jobs.recommendation = quiet(api(`/incidents/${id}/recommendation`));
      if (force || !this.data.available || Date.now() - this.availableAt > AVAILABLE_EVERY_MS) {
        this.availableAt = Date.now();
        // Only the rows shown, and one more to know there are more (a whole city's units
        // are 300 KB, each refresh).
        const kind = this.form.overrideKind ? `&kind=${encodeURIComponent(this.form.overrideKind)}` : '';
        jobs.available = quiet(api(`/incidents/${id}/available-units?limit=${overrideRows(this.form) + 1}${kind}`));
      }
    }
    if (this.tab === 'chronology') jobs.chronology = quiet(api(`/incidents/${id}/chronology`));
    if (this.tab === 'timeline') jobs.trace = quiet(api(`/incidents/${id}/trace`));
    const keys = Object.keys(jobs);
    let results;
    try {
      results = await Promise.all(Object.values(jobs));
    } catch (err) {
      if (gen === this.generation && this.id === id) this.ctx.showError(err);
      return;
    }
    if (gen !== this.generation || this.id !== id) return;
    keys.forEach((k, i) => {
      this.data[k] = results[i];
    });
    const rec = this.data.recommendation;
    if (rec && !(rec instanceof ApiError)) {
      for (const c of rec.candidates || []) {
        if (!this.form.seen.has(c.unit)) {
          this.form.seen.add(c.unit);
          if (c.selected) this.form.selected.add(c.unit);
        }
      }
    }
    this.render();
  }

  // --- rendering --------------------------------------------------------------------------

  render() {
    if (!this.id) return;
    // A live refresh redraws the panel: the focused field keeps its focus and caret.
    const active = this.panel.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = active ? active.dataset.key : null;
    const caret = active && typeof active.selectionStart === 'number' ? [active.selectionStart, active.selectionEnd] : null;
    const inc = this.incident();
    this.welfareNodes = [];
    const head = h(
      'header',
      { class: 'panel-head' },
      h('h2', { id: 'detail-title' }, inc ? typeLabel(inc.type_code) : t('detail.loading')),
      this.editing ? null : editButton(this, inc),
      h('button', { type: 'button', class: 'icon', 'aria-label': t('panel.close'), title: t('panel.close'), onclick: () => this.hide() }, '×'),
    );
    const body = !inc ? [] : this.editing ? [editForm(this, inc)] : [this.tabs(), this.tabPanel(inc)];
    this.panel.replaceChildren(head, inc ? this.summary(inc) : h('p', { class: 'muted' }, t('detail.loading')), ...body);
    this.tick(Date.now());
    for (const [formId, fields] of this.errors) {
      const form = this.panel.querySelector(`#${formId}`);
      if (form) showFieldErrors(form, fields, { focus: false });
    }
    if (focusKey) {
      const el = this.panel.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (el) {
        el.focus();
        if (caret && typeof el.setSelectionRange === 'function') el.setSelectionRange(caret[0], caret[1]);
      }
    }
  }

  /** The freshest incident we have: the detail, with the picture's live fields over it. */
  incident() {
    const detail = this.data.incident && this.data.incident.incident;
    const live = this.ctx.picture.incidents.get(this.id);
    if (detail && live && live.etag !== detail.etag) {
      const merged = { ...detail, ...live };
      delete merged._t;
      return merged;
    }
    return detail || live || null;
  }

  summary(inc) {
    const text = () => document.createTextNode('');
    this.timerNodes = { call: text(), dispatch: text(), scene: text(), cells: {} };
    const tips = timerTips(inc.priority);
    const timer = (key, caption) => {
      const cell = h('div', { class: 'timer', title: tips[key] }, h('span', { class: 'caption' }, caption), h('strong', null, this.timerNodes[key]));
      this.timerNodes.cells[key] = cell;
      return cell;
    };
    const caller = inc.caller;
    return h(
      'div',
      { class: 'summary' },
      h(
        'p',
        { class: 'chips-line' },
        h('span', { class: `badge p${inc.priority}` }, `P${inc.priority}`),
        h('span', { class: `state-chip state-${inc.state}` }, label('state', inc.state)),
        inc.exercise ? h('span', { class: 'tag exercise', title: t('exercise.title') }, t('exercise.tag')) : null,
        h('code', { title: inc.id }, shortId(inc.id)),
        (inc.agencies || []).map((a) => h('span', { class: `agency-tag agency-${a}` }, label('agency', a))),
      ),
      h('p', { class: 'where' }, [inc.address, inc.ward].filter(Boolean).join(', ') || `${inc.lat?.toFixed(5)}, ${inc.lon?.toFixed(5)}`),
      h('div', { class: 'timers' }, timer('call', t('col.since_call')), timer('dispatch', t('col.since_dispatch')), timer('scene', t('col.since_scene'))),
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, t('detail.created')),
        h('dd', null, clockTime(inc.create_time)),
        inc.first_dispatch_time ? [h('dt', null, t('detail.first_dispatch')), h('dd', null, clockTime(inc.first_dispatch_time))] : null,
        inc.first_on_scene_time ? [h('dt', null, t('detail.first_on_scene')), h('dd', null, clockTime(inc.first_on_scene_time))] : null,
        inc.close_time ? [h('dt', null, t('detail.closed')), h('dd', null, clockTime(inc.close_time))] : null,
        inc.description ? [h('dt', null, t('detail.description')), h('dd', null, inc.description)] : null,
        caller && (caller.name || caller.phone)
          ? [h('dt', null, t('detail.caller')), h('dd', null, [caller.name, caller.phone, caller.language && label('lang', caller.language)].filter(Boolean).join(' · '))]
          : null,
        inc.resolution ? [h('dt', null, t('detail.resolution')), h('dd', null, inc.resolution)] : null,
        inc.merged_into ? [h('dt', null, t('state.MERGED')), h('dd', null, t('detail.merged_into', { id: shortId(inc.merged_into) }))] : null,
      ),
    );
  }

  tabs() {
    const tabs = TABS.filter((k) => k !== 'timeline' || can(this.ctx.user(), 'supervisor'));
    return h(
      'div',
      { class: 'tabs', role: 'tablist', 'aria-label': t('detail.title') },
      tabs.map((k) =>
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            id: `tab-${k}`,
            'aria-selected': k === this.tab ? 'true' : 'false',
            'aria-controls': 'detail-tabpanel',
            dataset: { tab: k, key: `tab-${k}` },
            onclick: () => {
              this.tab = k;
              this.render();
              this.refresh();
            },
          },
          t(`detail.tab.${k}`),
        ),
      ),
    );
  }

  tabPanel(inc) {
    const body =
      this.tab === 'chronology' ? chronologyTab(this, inc) : this.tab === 'notes' ? notesTab(this, inc) : this.tab === 'timeline' ? timelineTab(this) : dispatchTab(this, inc);
    return h('div', { class: 'tabpanel', id: 'detail-tabpanel', role: 'tabpanel', 'aria-labelledby': `tab-${this.tab}` }, body);
  }

  // --- shared by the tabs ---------------------------------------------------------------

  /** A labelled text input bound to this.form, with its field error below. */
  input(id, field, caption, value, set, { textarea = false } = {}) {
    const el = h(textarea ? 'textarea' : 'input', { id, value, dataset: { key: id }, 'aria-describedby': `${id}-err`, rows: textarea ? '3' : null });
    el.addEventListener('input', () => set(el.value));
    return h('div', { class: 'field' }, h('label', { for: id }, caption), el, h('small', { class: 'field-error', id: `${id}-err`, dataset: { field, for: id } }));
  }

  // --- actions ----------------------------------------------------------------------------

  /** Runs one action: the button disabled meanwhile, errors next to fields or in the banner. */
  async act(button, formId, fn, done, explain = null) {
    const form = formId ? this.panel.querySelector(`#${formId}`) : null;
    if (form) clearFieldErrors(form);
    this.errors.delete(formId);
    if (button) button.disabled = true;
    try {
      const result = await fn();
      if (done) this.ctx.info(typeof done === 'function' ? done(result) : done);
      await this.refresh(true);
      return true;
    } catch (err) {
      // The panel may have been redrawn meanwhile: the form as it is now.
      const shown = formId ? this.panel.querySelector(`#${formId}`) || form : null;
      if (shown && err.fields) this.errors.set(formId, err.fields);
      const unplaced = shown && err.fields ? showFieldErrors(shown, err.fields) : err.fields || [];
      this.ctx.showError(this.explained(err, explain), unplaced);
      return false;
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  }

  /** An error with the panel's own sentence for it (in the screen's language) when it has
   * one; the service's words are English. */
  explained(err, explain) {
    const said = err instanceof ApiError && (explain ? explain(err) : err.status === 409 && err.message.includes('etag') ? t('panel.stale_etag') : null);
    if (!said) return err;
    const out = new ApiError(err.status, err.code, said, err.fields, err.retryAfter);
    out.translated = true;
    return out;
  }

  /** The screen's own check: shows the errors and returns false when there are some. */
  check(formId, problems) {
    const form = this.panel.querySelector(`#${formId}`);
    if (!problems.length) return true;
    this.errors.set(formId, problems);
    clearFieldErrors(form);
    showFieldErrors(form, problems);
    return false;
  }

  async assign(button) {
    const units = [...this.form.selected].filter((u) => this.data.recommendation?.candidates?.some((c) => c.unit === u));
    if (!this.check('assign-form', units.length ? [] : [fieldError('units', t('error.select_units'))])) return;
    const ok = await this.act(button, 'assign-form', () => api(`/incidents/${this.id}/assign`, { method: 'POST', body: { units, request_id: uuid() } }), (r) =>
      t('detail.assigned', { n: (r.assignments || units).length }),
    );
    if (ok) for (const u of units) this.form.selected.delete(u);
  }

  async overrideAssign(button) {
    const unit = this.form.overrideUnit;
    const reason = this.form.overrideReason.trim();
    const problems = [];
    if (!unit) problems.push(fieldError('units', t('error.required')));
    if (!reason) problems.push(fieldError('override_reason', t('error.required')));
    if (!this.check('override-form', problems)) return;
    const ok = await this.act(
      button,
      'override-form',
      () => api(`/incidents/${this.id}/assign`, { method: 'POST', body: { units: [unit], override_reason: reason, request_id: uuid() } }),
      t('detail.assigned', { n: 1 }),
    );
    if (ok) {
      this.form.overrideUnit = '';
      this.form.overrideReason = '';
      this.render();
    }
  }

  async release(units, button) {
    const reason = this.form.releaseReason.trim();
    if (!this.check('release-form', reason ? [] : [fieldError('reason', t('error.required'))])) return;
    const body = units ? { units, reason } : { reason };
    const ok = await this.act(button, 'release-form', () => api(`/incidents/${this.id}/release`, { method: 'POST', body }), t('detail.released'));
    if (ok) this.form.releaseReason = '';
  }

  acknowledge(assignmentId, button) {
    return this.act(button, null, () => api(`/assignments/${assignmentId}/acknowledge`, { method: 'POST' }), t('detail.acknowledged'));
  }

  async setStatus(unitId, status, button) {
    const ok = await this.act(button, null, () => api(`/units/${unitId}/status`, { method: 'POST', body: { status } }), t('detail.status_changed'));
    if (ok) this.form.status.delete(unitId);
  }

  async close(button) {
    const resolution = this.form.resolution.trim();
    if (!this.check('close-form', resolution ? [] : [fieldError('resolution', t('error.required'))])) return;
    const inc = this.incident();
    const ok = await this.act(
      button,
      'close-form',
      () => api(`/incidents/${this.id}/close`, { method: 'POST', body: { resolution, etag: inc && inc.etag } }),
      t('detail.closed_ok'),
      (err) => (err.status === 409 && /releas|assign/i.test(err.message) ? t('panel.close_needs_release') : null),
    );
    if (ok) this.form.resolution = '';
  }

  async addNote(button) {
    const text = this.form.note.trim();
    if (!this.check('note-form', text ? [] : [fieldError('text', t('error.required'))])) return;
    const ok = await this.act(button, 'note-form', () => api(`/incidents/${this.id}/notes`, { method: 'POST', body: { text } }), t('detail.note_added'));
    if (ok) {
      this.form.note = '';
      this.render();
    }
  }

  // --- clock and language ---------------------------------------------------------------

  tick(now) {
    const nodes = this.timerNodes;
    const inc = this.visible && this.incident();
    if (!nodes || !inc) return;
    // A closed incident's clocks stop when it closed.
    const ended = !OPEN_STATES.has(inc.state);
    if (ended && !this.endedAt) this.endedAt = ms(inc.close_time) || now;
    if (!ended) this.endedAt = null;
    const v = timerValues(inc, ended ? Math.min(now, this.endedAt) : now);
    for (const [key, level] of [
      ['call', v.callLevel],
      ['dispatch', v.dispatchLevel],
      ['scene', ''],
    ]) {
      if (nodes[key].data !== v[key]) nodes[key].data = v[key];
      const cell = nodes.cells[key];
      cell.classList.toggle('amber', level === 'amber');
      cell.classList.toggle('red', level === 'red');
    }
    tickWelfare(this, now);
  }

  relabel() {
    if (this.visible) this.render();
  }
}
