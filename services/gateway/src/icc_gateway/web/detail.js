// The incident detail panel: header and timers, dispatch status and recommendation with the
// dispatcher's actions, chronology, notes, and for supervisors the trace timeline.
// Rendered from fetched data and this.form (what the user typed), so a live refresh never
// loses input; actions are shown only to the roles allowed to use them.
import { ApiError, api } from './api.js';
import { h, uuid } from './dom.js';
import { clearFieldErrors, fieldError, showFieldErrors } from './forms.js';
import { label, t } from './i18n.js';
import { ACTIVE_ASSIGNMENT, OPEN_STATES, UNIT_STATUSES, can, typeLabel } from './model.js';
import { timerTips, timerValues } from './queue.js';
import { clockTime, shortId } from './text.js';

const TABS = ['dispatch', 'chronology', 'notes', 'timeline'];
const emptyForm = () => ({ selected: new Set(), seen: new Set(), overrideUnit: '', overrideReason: '', releaseReason: '', resolution: '', note: '', status: new Map() });

export class IncidentDetail {
  /** ctx: {user(), picture, map, showError(err, unplaced), info(text), onHide()} */
  constructor(panel, ctx) {
    this.panel = panel;
    this.ctx = ctx;
    this.id = null;
    this.tab = 'dispatch';
    this.data = {};
    this.form = emptyForm();
    this.generation = 0;
    this.refreshTimer = null;
    this.timerNodes = null;
  }

  get visible() {
    return !this.panel.hidden && this.id != null;
  }

  async open(id) {
    if (id !== this.id) {
      this.id = id;
      this.data = {};
      this.form = emptyForm();
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
  async refresh() {
    const id = this.id;
    if (!id) return;
    const gen = ++this.generation;
    const quiet = (p) => p.catch((e) => (e instanceof ApiError ? e : Promise.reject(e)));
    const jobs = { incident: api(`/incidents/${id}`) };
    const known = this.ctx.picture.incidents.get(id) || (this.data.incident && this.data.incident.incident);
    const open = !known || OPEN_STATES.has(known.state);
    jobs.dispatch = quiet(api(`/incidents/${id}/dispatch`));
    if (open && can(this.ctx.user(), 'dispatcher')) jobs.recommendation = quiet(api(`/incidents/${id}/recommendation`));
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
    const head = h(
      'header',
      { class: 'panel-head' },
      h('h2', { id: 'detail-title' }, inc ? typeLabel(inc.type_code) : t('detail.loading')),
      h('button', { type: 'button', class: 'icon', 'aria-label': t('panel.close'), title: t('panel.close'), onclick: () => this.hide() }, '×'),
    );
    this.panel.replaceChildren(head, inc ? this.summary(inc) : h('p', { class: 'muted' }, t('detail.loading')), inc ? this.tabs() : null, inc ? this.tabPanel(inc) : null);
    this.tick(Date.now());
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
        h('span', { class: 'muted' }, inc.type_code),
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
      this.tab === 'chronology' ? this.chronology() : this.tab === 'notes' ? this.notes(inc) : this.tab === 'timeline' ? this.timeline() : this.dispatch(inc);
    return h('div', { class: 'tabpanel', id: 'detail-tabpanel', role: 'tabpanel', 'aria-labelledby': `tab-${this.tab}` }, body);
  }

  // --- dispatch tab -----------------------------------------------------------------------

  dispatch(inc) {
    const user = this.ctx.user();
    const dispatcher = can(user, 'dispatcher') && OPEN_STATES.has(inc.state);
    const status = this.data.dispatch instanceof ApiError ? null : this.data.dispatch;
    const assignments = (status && status.assignments) || inc.assignments || [];
    const active = assignments.filter((a) => ACTIVE_ASSIGNMENT.has(a.state));
    const out = [];
    if (status) {
      out.push(
        h(
          'p',
          { class: 'dispatch-state' },
          h('span', { class: 'caption' }, `${t('detail.dispatch_state')}: `),
          h('strong', null, label('dispatch', status.state)),
          status.waiting ? h('span', { class: 'tag' }, t('dispatch.waiting')) : null,
          status.mutual_aid ? h('span', { class: 'tag' }, t('dispatch.mutual_aid')) : null,
        ),
      );
      if (status.shortfalls && status.shortfalls.length) {
        const missing = status.shortfalls.map((x) => t('detail.shortfall', { role: label('plan', x.role), n: x.missing })).join('; ');
        out.push(h('p', { class: 'shortfalls' }, `${t('detail.shortfalls')}: ${missing}`));
      }
    }
    out.push(h('h3', null, t('detail.assignments')));
    out.push(assignments.length ? this.assignmentTable(assignments, dispatcher) : h('p', { class: 'muted' }, t('detail.no_assignments')));
    if (dispatcher && active.length) {
      out.push(
        h(
          'form',
          { class: 'inline-form', id: 'release-form', onsubmit: (e) => (e.preventDefault(), this.release(null, e.submitter)) },
          this.input('release-reason', 'reason', t('detail.release_reason'), this.form.releaseReason, (v) => (this.form.releaseReason = v)),
          h('button', { type: 'submit', class: 'danger', dataset: { key: 'release-all' } }, t('detail.release_all')),
        ),
      );
    }
    if (dispatcher) out.push(this.recommendation());
    if (dispatcher) out.push(this.override(assignments));
    if (dispatcher) {
      out.push(
        h(
          'form',
          { class: 'inline-form', id: 'close-form', onsubmit: (e) => (e.preventDefault(), this.close(e.submitter)) },
          h('h3', null, t('detail.close_incident')),
          active.length ? h('p', { class: 'hint' }, t('detail.close_hint')) : null,
          this.input('close-resolution', 'resolution', t('detail.resolution_label'), this.form.resolution, (v) => (this.form.resolution = v)),
          h('button', { type: 'submit', class: 'primary', dataset: { key: 'close' } }, t('detail.close_incident')),
        ),
      );
    }
    return out;
  }

  /** A labelled text input bound to this.form, with its field error below. */
  input(id, field, caption, value, set, { textarea = false } = {}) {
    const el = h(textarea ? 'textarea' : 'input', { id, value, dataset: { key: id }, 'aria-describedby': `${id}-err`, rows: textarea ? '3' : null });
    el.addEventListener('input', () => set(el.value));
    return h('div', { class: 'field' }, h('label', { for: id }, caption), el, h('small', { class: 'field-error', id: `${id}-err`, dataset: { field, for: id } }));
  }

  assignmentTable(assignments, dispatcher) {
    const units = this.ctx.picture.units;
    const sorted = [...assignments].sort((a, b) => (ACTIVE_ASSIGNMENT.has(b.state) ? 1 : 0) - (ACTIVE_ASSIGNMENT.has(a.state) ? 1 : 0));
    return h(
      'table',
      { class: 'grid assignments' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { scope: 'col' }, t('detail.unit')),
          h('th', { scope: 'col' }, t('detail.state')),
          dispatcher ? h('th', { scope: 'col' }, t('detail.actions')) : null,
        ),
      ),
      h(
        'tbody',
        null,
        sorted.map((a) => {
          const id = a.id || (a.name || '').split('/').pop();
          const unitId = (a.unit || '').split('/').pop();
          const unit = units.get(unitId);
          const live = ACTIVE_ASSIGNMENT.has(a.state);
          const role = a.role && label('plan', a.role);
          const kind = label('kind', a.kind);
          const choice = this.form.status.get(unitId) || (unit && unit.status) || 'AVAILABLE';
          const select = h(
            'select',
            { 'aria-label': `${t('detail.unit_status')} ${a.call_sign || unitId}`, dataset: { key: `status-${unitId}` } },
            UNIT_STATUSES.map((s) => h('option', { value: s, selected: s === choice }, label('status', s))),
          );
          select.addEventListener('change', () => this.form.status.set(unitId, select.value));
          return h(
            'tr',
            { class: live ? '' : 'released', dataset: { unit: unitId, assignment: id } },
            h(
              'td',
              null,
              h('strong', null, a.call_sign || shortId(unitId)),
              h('div', { class: 'muted' }, `${label('agency', a.agency)} · ${kind}`),
              role && role !== kind ? h('div', { class: 'muted' }, role) : null,
            ),
            h(
              'td',
              null,
              h('div', { class: `assignment-state state-${a.state}` }, label('assignment', a.state)),
              a.state === 'ASSIGNED' && a.acknowledge_deadline ? h('div', { class: 'muted' }, t('detail.ack_by', { time: clockTime(a.acknowledge_deadline) })) : null,
              a.override ? h('div', { class: 'muted' }, t('detail.override')) : null,
              unit ? h('div', { class: 'muted', title: t('detail.unit_status') }, label('status', unit.status)) : null,
            ),
            dispatcher
              ? h(
                  'td',
                  { class: 'actions' },
                  a.state === 'ASSIGNED' || a.state === 'PROPOSED'
                    ? h('button', { type: 'button', class: 'primary small', dataset: { key: `ack-${id}` }, onclick: (e) => this.acknowledge(id, e.currentTarget) }, t('detail.acknowledge'))
                    : null,
                  live ? h('button', { type: 'button', class: 'small', dataset: { key: `rel-${id}` }, onclick: (e) => this.release([unitId], e.currentTarget) }, t('detail.release')) : null,
                  live
                    ? h(
                        'span',
                        { class: 'status-set' },
                        select,
                        h('button', { type: 'button', class: 'small', dataset: { key: `set-${unitId}` }, onclick: (e) => this.setStatus(unitId, select.value, e.currentTarget) }, t('detail.set_status')),
                      )
                    : null,
                )
              : null,
          );
        }),
      ),
    );
  }

  recommendation() {
    const rec = this.data.recommendation;
    const out = [h('h3', null, t('detail.recommendation'))];
    if (!rec) return h('section', { class: 'recommendation' }, out, h('p', { class: 'muted' }, t('detail.loading')));
    if (rec instanceof ApiError) return h('section', { class: 'recommendation' }, out, h('p', { class: 'muted' }, this.ctx.errorText(rec)));
    const plan = rec.plan || { items: [] };
    out.push(
      h('h4', null, t('detail.plan')),
      h(
        'ul',
        { class: 'plan' },
        (plan.items || []).map((i) =>
          h(
            'li',
            null,
            `${i.count} × ${label('plan', i.role)} · ${label('agency', i.agency)} (${(i.kinds || []).map((k) => label('kind', k)).join(', ')})`,
            i.first ? h('span', { class: 'tag' }, t('detail.plan_first')) : null,
          ),
        ),
      ),
    );
    if (rec.shortfalls && rec.shortfalls.length) {
      out.push(h('p', { class: 'shortfalls' }, `${t('detail.shortfalls')}: `, rec.shortfalls.map((s) => t('detail.shortfall', { role: label('plan', s.role), n: s.missing })).join('; ')));
    }
    const candidates = rec.candidates || [];
    out.push(h('h4', null, t('detail.candidates')));
    if (!candidates.length) {
      out.push(h('p', { class: 'muted' }, t('detail.no_candidates')));
    } else {
      out.push(
        h(
          'form',
          { id: 'assign-form', onsubmit: (e) => (e.preventDefault(), this.assign(e.submitter)) },
          h(
            'table',
            { class: 'grid candidates' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                h('th', { scope: 'col' }, t('detail.select')),
                h('th', { scope: 'col' }, t('detail.unit')),
                h('th', { scope: 'col' }, t('detail.role')),
                h('th', { scope: 'col', class: 'num' }, t('detail.eta')),
                h('th', { scope: 'col', class: 'num' }, t('detail.distance')),
                h('th', { scope: 'col' }, t('detail.reasons')),
              ),
            ),
            h(
              'tbody',
              null,
              candidates.map((c) => {
                const box = h('input', {
                  type: 'checkbox',
                  checked: this.form.selected.has(c.unit),
                  'aria-label': `${t('detail.select')} ${c.call_sign}`,
                  dataset: { key: `cand-${c.unit}`, unit: c.unit },
                });
                box.addEventListener('change', () => (box.checked ? this.form.selected.add(c.unit) : this.form.selected.delete(c.unit)));
                return h(
                  'tr',
                  { class: c.selected ? 'recommended' : '' },
                  h('td', null, box),
                  h('td', null, h('strong', null, c.call_sign), h('div', { class: 'muted' }, `${label('agency', c.agency)} · ${label('kind', c.kind)}`)),
                  h('td', null, label('plan', c.role), c.mutual_aid ? h('span', { class: 'tag' }, t('detail.mutual_aid')) : null),
                  h('td', { class: 'num' }, c.eta_s != null ? (c.eta_s / 60).toFixed(1) : '—'),
                  h('td', { class: 'num' }, c.distance_m != null ? (c.distance_m / 1000).toFixed(1) : '—'),
                  h('td', null, h('ul', { class: 'reasons' }, (c.reasons || []).map((r) => h('li', null, r)))),
                );
              }),
            ),
          ),
          h('small', { class: 'field-error', dataset: { field: 'units' } }),
          rec.eta_source ? h('p', { class: 'muted' }, t('detail.eta_source', { source: rec.eta_source })) : null,
          h('button', { type: 'submit', class: 'primary', dataset: { key: 'assign' } }, t('detail.assign_selected')),
        ),
      );
    }
    return h('section', { class: 'recommendation' }, out);
  }

  override(assignments) {
    const taken = new Set(assignments.filter((a) => ACTIVE_ASSIGNMENT.has(a.state)).map((a) => (a.unit || '').split('/').pop()));
    const available = [...this.ctx.picture.units.values()]
      .filter((u) => u.status === 'AVAILABLE' && !taken.has(u.id))
      .sort((a, b) => (a.agency + a.call_sign < b.agency + b.call_sign ? -1 : 1));
    const byAgency = new Map();
    for (const u of available) {
      if (!byAgency.has(u.agency)) byAgency.set(u.agency, []);
      byAgency.get(u.agency).push(u);
    }
    const select = h(
      'select',
      { id: 'override-unit', dataset: { key: 'override-unit' }, 'aria-describedby': 'override-unit-err' },
      h('option', { value: '' }, '—'),
      [...byAgency].map(([agency, list]) =>
        h('optgroup', { label: label('agency', agency) }, list.map((u) => h('option', { value: u.id, selected: u.id === this.form.overrideUnit }, `${u.call_sign} · ${label('kind', u.kind)}`))),
      ),
    );
    select.addEventListener('change', () => (this.form.overrideUnit = select.value));
    return h(
      'form',
      { class: 'inline-form', id: 'override-form', onsubmit: (e) => (e.preventDefault(), this.overrideAssign(e.submitter)) },
      h('h3', null, t('detail.override')),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'override-unit' }, t('detail.override_unit')),
        select,
        h('small', { class: 'field-error', id: 'override-unit-err', dataset: { field: 'units', for: 'override-unit' } }),
      ),
      this.input('override-reason', 'override_reason', t('detail.override_reason'), this.form.overrideReason, (v) => (this.form.overrideReason = v)),
      h('button', { type: 'submit', dataset: { key: 'override' } }, t('detail.override_submit')),
    );
  }

  // --- other tabs -----------------------------------------------------------------------

  chronology() {
    const data = this.data.chronology;
    if (!data) return h('p', { class: 'muted' }, t('detail.loading'));
    if (data instanceof ApiError) return h('p', { class: 'muted' }, this.ctx.errorText(data));
    if (!data.entries.length) return h('p', { class: 'muted' }, t('detail.no_chronology'));
    return h(
      'table',
      { class: 'grid chronology' },
      h(
        'thead',
        null,
        h('tr', null, ['detail.time', 'detail.actor', 'detail.action', 'detail.detail'].map((k) => h('th', { scope: 'col' }, t(k)))),
      ),
      h(
        'tbody',
        null,
        data.entries.map((e) =>
          h(
            'tr',
            null,
            h('td', { class: 'nowrap' }, clockTime(e.time)),
            h('td', null, [e.actor?.user, e.actor?.agency && label('agency', e.actor.agency), e.actor?.role && label('role', e.actor.role)].filter(Boolean).join(' · ')),
            h('td', null, label('action', e.action)),
            h('td', null, e.detail),
          ),
        ),
      ),
    );
  }

  notes(inc) {
    const notes = inc.notes || [];
    const out = [
      notes.length
        ? h(
            'ol',
            { class: 'notes' },
            notes.map((n) => h('li', null, h('div', { class: 'muted' }, `${clockTime(n.create_time)} · ${n.author || ''}`), h('p', null, n.text))),
          )
        : h('p', { class: 'muted' }, t('detail.no_notes')),
    ];
    if (can(this.ctx.user(), 'call_taker') && OPEN_STATES.has(inc.state)) {
      out.push(
        h(
          'form',
          { class: 'inline-form', id: 'note-form', onsubmit: (e) => (e.preventDefault(), this.addNote(e.submitter)) },
          this.input('note-text', 'text', t('detail.note_text'), this.form.note, (v) => (this.form.note = v), { textarea: true }),
          h('button', { type: 'submit', class: 'primary', dataset: { key: 'add-note' } }, t('detail.add_note')),
        ),
      );
    }
    return out;
  }

  timeline() {
    const data = this.data.trace;
    if (!data) return h('p', { class: 'muted' }, t('detail.loading'));
    if (data instanceof ApiError) {
      return h('p', { class: 'note' }, data.status === 503 ? t('detail.trace_unavailable') : this.ctx.errorText(data));
    }
    const spans = data.spans || [];
    if (!spans.length) return h('p', { class: 'muted' }, t('detail.trace_empty'));
    const end = Math.max(...spans.map((s) => s.start_ms + s.duration_ms), 1);
    return h(
      'div',
      { class: 'waterfall', role: 'table', 'aria-label': t('detail.tab.timeline') },
      h('div', { class: 'wf-row wf-head', role: 'row' }, h('span', { role: 'columnheader' }, t('detail.trace_span')), h('span', { role: 'columnheader' }, `0 – ${Math.round(end)} ms`)),
      spans.map((s) =>
        h(
          'div',
          { class: `wf-row${s.error ? ' error' : ''}`, role: 'row', title: t('detail.trace_ms', { start: Math.round(s.start_ms), duration: s.duration_ms.toFixed(1) }) },
          h('span', { class: 'wf-name', role: 'cell', style: `padding-left:${(s.depth || 0) * 12}px` }, h('strong', null, s.service), ` ${s.operation}`),
          h(
            'span',
            { class: 'wf-track', role: 'cell' },
            h('span', {
              class: 'wf-bar',
              style: `left:${((s.start_ms / end) * 100).toFixed(2)}%;width:${Math.max((s.duration_ms / end) * 100, 0.4).toFixed(2)}%`,
            }),
            h('span', { class: 'wf-ms' }, `${s.duration_ms.toFixed(1)} ms`),
          ),
        ),
      ),
    );
  }

  // --- actions ----------------------------------------------------------------------------

  /** Runs one action: the button disabled meanwhile, errors next to fields or in the banner. */
  async act(button, formId, fn, done) {
    const form = formId ? this.panel.querySelector(`#${formId}`) : null;
    if (form) clearFieldErrors(form);
    if (button) button.disabled = true;
    try {
      const result = await fn();
      if (done) this.ctx.info(typeof done === 'function' ? done(result) : done);
      await this.refresh();
      return true;
    } catch (err) {
      const unplaced = form && err.fields ? showFieldErrors(form, err.fields) : err.fields || [];
      this.ctx.showError(err, unplaced);
      return false;
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  }

  /** The screen's own check: shows the errors and returns false when there are some. */
  check(formId, problems) {
    const form = this.panel.querySelector(`#${formId}`);
    if (!problems.length) return true;
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
    const v = timerValues(inc, now);
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
  }

  relabel() {
    if (this.visible) this.render();
  }
}
