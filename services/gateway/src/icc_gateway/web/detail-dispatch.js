// The incident panel's dispatch tab: dispatch status (a decision waiting said as one, not
// as a shortage), the assignments with their ETA, welfare timers and actions, the
// recommendation to assign from, an override chosen from every available unit by ETA,
// and closing the incident. Built from the panel's fetched data and its form state (`d`,
// the IncidentDetail), so a refresh loses no input; a dispatcher's controls only for
// dispatchers and open incidents. Reasons are codes put into words by reasons.js.
import { ApiError } from './api.js';
import { h, thead } from './dom.js';
import { label, lang, t } from './i18n.js';
import { ACTIVE_ASSIGNMENT, OPEN_STATES, UNIT_STATUSES, can, toServer, welfare } from './model.js';
import { durationWords, etaClock, km, reasonText } from './reasons.js';
import { clockTime, duration, ms, shortId } from './text.js';

const bareId = (name) => (name || '').split('/').pop();
// Override rows shown at first, and added by each "show more".
const OVERRIDE_PAGE = 15;
/** How many override rows the panel shows (and asks the gateway for). */
export const overrideRows = (form) => form.overrideShown || OVERRIDE_PAGE;

/** An inline form of the panel whose submit runs `action(submitter)`. */
function inlineForm(id, action, ...children) {
  return h('form', { class: 'inline-form', id, onsubmit: (e) => (e.preventDefault(), action(e.submitter)) }, ...children);
}

/** A role of the plan in words: the screen's label, else the plan's own, else its key. */
export function roleLabel(d, role) {
  const key = `plan.${role}`;
  const mine = label('plan', role);
  if (mine !== role || !role) return mine;
  const rec = d.data.recommendation;
  const item = rec && !(rec instanceof ApiError) && (rec.plan?.items || []).find((i) => i.role === role);
  return (item && (lang() === 'en' ? item.label_en : item.label_vi)) || key.slice(5);
}

const roleCounts = (d, shortfalls) => shortfalls.map((s) => t('panel.role_count', { role: roleLabel(d, s.role), n: s.missing })).join(', ');

/** Each unfilled role, with why it is unfilled. */
function shortfallText(d, list) {
  return list.map((s) => {
    const why = reasonText(s.coded_reason);
    const role = t('panel.role_count', { role: roleLabel(d, s.role), n: s.missing });
    return why ? `${role}: ${why}` : role;
  });
}

/** Since when a decision waits, and for how long (ticked with the panel's timers). */
function decisionSince(d, since) {
  const text = document.createTextNode('');
  d.decisionNode = { text, since, at: ms(since) };
  setDecision(d.decisionNode, Date.now());
  return h('span', { class: 'muted decision-since' }, text);
}

function setDecision(x, now) {
  const text = ` · ${t('panel.decision_since', { time: clockTime(x.since), d: duration((toServer(now) - x.at) / 1000) })}`;
  if (x.text.data !== text) x.text.data = text;
}

function tickDecision(d, now) {
  if (d.decisionNode && d.decisionNode.text.isConnected) setDecision(d.decisionNode, now);
}

function statusBlock(d, status) {
  const out = [
    h(
      'p',
      { class: 'dispatch-state' },
      h('span', { class: 'caption' }, `${t('detail.dispatch_state')}: `),
      h('strong', null, label('dispatch', status.state)),
      status.waiting ? h('span', { class: 'tag' }, t('panel.waiting_units')) : null,
      status.mutual_aid ? h('span', { class: 'tag' }, t('dispatch.mutual_aid')) : null,
    ),
  ];
  const shortfalls = status.shortfalls || [];
  if (status.awaiting_decision) {
    // A P3/P4 is not short of anything: the plan waits for the dispatcher to choose.
    const since = status.awaiting_since;
    out.push(
      h(
        'div',
        { class: 'decision', role: 'status', dataset: { key: 'decision' } },
        h('strong', null, t('panel.decision_waiting')),
        since ? decisionSince(d, since) : null,
        shortfalls.length ? h('p', null, t('panel.decision_roles', { roles: roleCounts(d, shortfalls) })) : null,
      ),
    );
  } else if (shortfalls.length) {
    out.push(h('div', { class: 'shortfalls' }, h('span', { class: 'caption' }, `${t('detail.shortfalls')}: `), h('ul', null, shortfallText(d, shortfalls).map((x) => h('li', null, x)))));
  }
  return out;
}

export function dispatchTab(d, inc) {
  const dispatcher = can(d.ctx.user(), 'dispatcher') && OPEN_STATES.has(inc.state);
  const status = d.data.dispatch instanceof ApiError ? null : d.data.dispatch;
  const assignments = (status && status.assignments) || inc.assignments || [];
  const active = assignments.filter((a) => ACTIVE_ASSIGNMENT.has(a.state));
  d.welfareNodes = [];
  const out = [];
  if (status) out.push(...statusBlock(d, status));
  out.push(h('h3', null, t('detail.assignments')));
  out.push(assignments.length ? assignmentTable(d, assignments, dispatcher, OPEN_STATES.has(inc.state)) : h('p', { class: 'muted' }, t('detail.no_assignments')));
  if (!dispatcher) return out;
  if (active.length) {
    out.push(
      inlineForm(
        'release-form',
        (button) => d.release(null, button),
        d.input('release-reason', 'reason', t('detail.release_reason'), d.form.releaseReason, (v) => (d.form.releaseReason = v)),
        h('button', { type: 'submit', class: 'danger', dataset: { key: 'release-all' } }, t('detail.release_all')),
      ),
    );
  }
  out.push(recommendation(d), override(d, assignments));
  out.push(
    inlineForm(
      'close-form',
      (button) => d.close(button),
      h('h3', null, t('detail.close_incident')),
      active.length ? h('p', { class: 'hint' }, t('detail.close_hint')) : null,
      d.input('close-resolution', 'resolution', t('detail.resolution_label'), d.form.resolution, (v) => (d.form.resolution = v)),
      h('button', { type: 'submit', class: 'primary', dataset: { key: 'close' } }, t('detail.close_incident')),
    ),
  );
  return out;
}

function assignmentTable(d, assignments, dispatcher, open) {
  const sorted = [...assignments].sort((a, b) => (ACTIVE_ASSIGNMENT.has(b.state) ? 1 : 0) - (ACTIVE_ASSIGNMENT.has(a.state) ? 1 : 0));
  return h(
    'table',
    { class: 'grid assignments' },
    thead(t('detail.unit'), { class: 'num', text: t('panel.eta'), title: t('panel.eta_tip') }, t('detail.state'), dispatcher ? t('detail.actions') : null),
    h(
      'tbody',
      null,
      sorted.map((a) => assignmentRow(d, a, dispatcher, open)),
    ),
  );
}

/** A unit's welfare timer (on scene, at hospital): its text node and cell, ticked by the
 * panel; none once the assignment ended or the incident closed. */
function welfareCell(d, unit) {
  const limits = welfare(unit && unit.status);
  if (!limits || !unit.update_time) return null;
  const text = document.createTextNode('');
  const cell = h('div', { class: 'welfare', title: t('welfare.tip', { amber: duration(limits[0]), red: duration(limits[1]) }), dataset: { status: unit.status } }, text);
  d.welfareNodes.push({ text, cell, since: ms(unit.update_time), status: unit.status, limits });
  return cell;
}

/** A hospital's name in the screen's language, from the picture (its id when unknown). */
function hospitalName(d, id) {
  const x = d.ctx.picture.hospitals.get(bareId(id));
  return (x && (lang() === 'en' ? x.name_en : x.name_vi)) || (x && x.name_vi) || bareId(id);
}

function assignmentRow(d, a, dispatcher, open) {
  const id = a.id || bareId(a.name);
  const unitId = bareId(a.unit);
  const unit = d.ctx.picture.units.get(unitId);
  const live = ACTIVE_ASSIGNMENT.has(a.state);
  const role = a.role && roleLabel(d, a.role);
  const kind = label('kind', a.kind);
  const ended = !live && a.coded_release_reason ? reasonText(a.coded_release_reason) : '';
  return h(
    'tr',
    { class: live ? '' : 'released', dataset: { unit: unitId, assignment: id } },
    h(
      'td',
      null,
      h('strong', null, a.call_sign || shortId(unitId)),
      h('div', { class: 'muted' }, `${label('agency', a.agency)} · ${kind}`),
      role && role !== kind ? h('div', { class: 'muted' }, role) : null,
      a.destination_hospital ? h('div', { class: 'muted destination' }, t('detail.destination', { name: hospitalName(d, a.destination_hospital) })) : null,
    ),
    h('td', { class: 'num eta', title: a.distance_m ? km(a.distance_m) : null }, etaClock(a.eta_s), a.distance_m ? h('div', { class: 'muted' }, km(a.distance_m)) : null),
    h(
      'td',
      null,
      h('div', { class: `assignment-state state-${a.state}` }, label('assignment', a.state)),
      a.state === 'ASSIGNED' && a.acknowledge_deadline ? h('div', { class: 'muted' }, t('detail.ack_by', { time: clockTime(a.acknowledge_deadline) })) : null,
      a.override ? h('div', { class: 'muted' }, t('detail.override')) : null,
      ended ? h('div', { class: 'muted release-reason' }, ended) : null,
      live && unit ? h('div', { class: 'muted', title: t('detail.unit_status') }, label('status', unit.status)) : null,
      live && open ? welfareCell(d, unit) : null,
    ),
    dispatcher ? assignmentActions(d, a, id, unitId, unit, live) : null,
  );
}

function assignmentActions(d, a, id, unitId, unit, live) {
  const choice = d.form.status.get(unitId) || (unit && unit.status) || 'AVAILABLE';
  const select = h(
    'select',
    { 'aria-label': `${t('detail.unit_status')} ${a.call_sign || unitId}`, dataset: { key: `status-${unitId}` } },
    UNIT_STATUSES.map((s) => h('option', { value: s, selected: s === choice }, label('status', s))),
  );
  select.addEventListener('change', () => d.form.status.set(unitId, select.value));
  const button = (key, text, onclick, cls = 'small') => h('button', { type: 'button', class: cls, dataset: { key }, onclick }, text);
  return h(
    'td',
    { class: 'actions' },
    a.state === 'ASSIGNED' || a.state === 'PROPOSED'
      ? button(`ack-${id}`, t('detail.acknowledge'), (e) => d.acknowledge(id, e.currentTarget), 'primary small')
      : null,
    live ? button(`rel-${id}`, t('detail.release'), (e) => d.release([unitId], e.currentTarget)) : null,
    live
      ? h(
          'span',
          { class: 'status-set' },
          select,
          button(`set-${unitId}`, t('detail.set_status'), (e) => d.setStatus(unitId, select.value, e.currentTarget)),
        )
      : null,
  );
}

function recommendation(d) {
  const rec = d.data.recommendation;
  const out = [h('h3', null, t('detail.recommendation'))];
  if (!rec) return h('section', { class: 'recommendation' }, out, h('p', { class: 'muted' }, t('detail.loading')));
  if (rec instanceof ApiError) return h('section', { class: 'recommendation' }, out, h('p', { class: 'muted' }, d.ctx.errorText(rec)));
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
          `${i.count} × ${roleLabel(d, i.role)} · ${label('agency', i.agency)} (${(i.kinds || []).map((k) => label('kind', k)).join(', ')})`,
          i.first ? h('span', { class: 'tag' }, t('detail.plan_first')) : null,
        ),
      ),
    ),
  );
  if (rec.shortfalls && rec.shortfalls.length) {
    out.push(h('div', { class: 'shortfalls' }, h('span', { class: 'caption' }, `${t('detail.shortfalls')}: `), h('ul', null, shortfallText(d, rec.shortfalls).map((x) => h('li', null, x)))));
  }
  const candidates = rec.candidates || [];
  out.push(h('h4', null, t('detail.candidates')));
  if (!candidates.length) {
    out.push(h('p', { class: 'muted' }, t('detail.no_candidates')));
  } else {
    out.push(
      h(
        'form',
        { id: 'assign-form', onsubmit: (e) => (e.preventDefault(), d.assign(e.submitter)) },
        h(
          'table',
          { class: 'grid candidates' },
          // Four columns, the role and reasons under the unit: the panel is narrow.
          thead(t('detail.select'), `${t('detail.unit')} · ${t('detail.reasons')}`, { class: 'num', text: t('panel.eta_col') }, { class: 'num', text: t('panel.distance_col') }),
          h(
            'tbody',
            null,
            candidates.map((c) => candidateRow(d, c)),
          ),
        ),
        h('small', { class: 'field-error', dataset: { field: 'units' } }),
        rec.eta_source_code ? h('p', { class: 'muted' }, t('detail.eta_source', { source: label('eta_source', rec.eta_source_code) })) : null,
        h('button', { type: 'submit', class: 'primary', dataset: { key: 'assign' } }, t('detail.assign_selected')),
      ),
    );
  }
  return h('section', { class: 'recommendation' }, out);
}

function candidateRow(d, c) {
  const box = h('input', {
    type: 'checkbox',
    checked: d.form.selected.has(c.unit),
    'aria-label': `${t('detail.select')} ${c.call_sign}`,
    dataset: { key: `cand-${c.unit}`, unit: c.unit },
  });
  box.addEventListener('change', () => (box.checked ? d.form.selected.add(c.unit) : d.form.selected.delete(c.unit)));
  return h(
    'tr',
    { class: c.selected ? 'recommended' : '' },
    h('td', null, box),
    h(
      'td',
      null,
      h('strong', null, c.call_sign),
      h('div', { class: 'muted' }, `${label('agency', c.agency)} · ${label('kind', c.kind)}`),
      h('div', { class: 'role' }, `${t('detail.role')}: ${roleLabel(d, c.role)}`, c.mutual_aid ? h('span', { class: 'tag' }, t('detail.mutual_aid')) : null),
      h('ul', { class: 'reasons' }, (c.coded_reasons || []).map((r) => h('li', null, reasonText(r)))),
    ),
    h('td', { class: 'num eta' }, etaClock(c.eta_s)),
    h('td', { class: 'num' }, c.distance_m ? km(c.distance_m) : t('time.none')),
  );
}

// --- the override: every available unit, nearest first -------------------------------------

function override(d, assignments) {
  const ranked = d.data.available;
  const head = h('h3', null, t('detail.override'));
  const reason = d.input('override-reason', 'override_reason', t('detail.override_reason'), d.form.overrideReason, (v) => (d.form.overrideReason = v));
  const submit = h('button', { type: 'submit', dataset: { key: 'override' } }, t('detail.override_submit'));
  const error = h('small', { class: 'field-error', id: 'override-unit-err', dataset: { field: 'units', for: 'override-kind' } });
  if (!ranked) return inlineForm('override-form', (b) => d.overrideAssign(b), head, h('p', { class: 'muted' }, t('detail.loading')));
  if (ranked instanceof ApiError) return inlineForm('override-form', (b) => d.overrideAssign(b), head, h('p', { class: 'muted' }, d.ctx.errorText(ranked)));
  const taken = new Set(assignments.filter((a) => ACTIVE_ASSIGNMENT.has(a.state)).map((a) => bareId(a.unit)));
  const limit = overrideRows(d.form);
  const kind = d.form.overrideKind;
  // Nearest first, as the dispatch service ranked them (no route last); asked for one
  // more than shown, so "show more" knows there are more.
  const listed = (ranked.candidates || []).filter((c) => !taken.has(c.unit));
  const shown = listed.slice(0, limit);
  // The kinds to filter by: those of every available unit in the picture.
  const kinds = new Set([kind].filter(Boolean));
  for (const u of d.ctx.picture.units.values()) if (u.status === 'AVAILABLE' && u.kind) kinds.add(u.kind);
  const sortedKinds = [...kinds].sort((a, b) => label('kind', a).localeCompare(label('kind', b), lang()));
  const filter = h(
    'select',
    { id: 'override-kind', dataset: { key: 'override-kind' } },
    h('option', { value: '' }, t('panel.override_all_kinds')),
    sortedKinds.map((k) => h('option', { value: k, selected: k === kind }, label('kind', k))),
  );
  filter.addEventListener('change', () => {
    d.form.overrideKind = filter.value;
    d.form.overrideShown = OVERRIDE_PAGE;
    d.refresh(true);
  });
  const threshold = ranked.mutual_aid_eta_s;
  const chosen = listed.find((c) => c.unit === d.form.overrideUnit);
  const far = chosen && chosen.beyond_mutual_aid_eta;
  const rows = shown.map((c) => overrideRow(d, c));
  return inlineForm(
    'override-form',
    (button) => d.overrideAssign(button),
    head,
    h('div', { class: 'field' }, h('label', { for: 'override-kind' }, t('panel.override_kind')), filter),
    shown.length
      ? h(
          'table',
          { class: 'grid override-units', 'aria-label': t('panel.override_list') },
          thead(t('detail.select'), t('detail.unit'), { class: 'num', text: t('panel.eta_col') }, { class: 'num', text: t('panel.distance_col') }),
          h('tbody', null, rows),
        )
      : h('p', { class: 'muted' }, t('panel.override_none')),
    listed.length > limit
      ? h(
          'button',
          { type: 'button', class: 'small', dataset: { key: 'override-more' }, onclick: () => ((d.form.overrideShown = limit + 2 * OVERRIDE_PAGE), d.refresh(true)) },
          t('panel.override_more_rows'),
        )
      : null,
    error,
    far ? h('p', { class: 'warning', role: 'alert', dataset: { key: 'override-far' } }, t('panel.override_far', { threshold: durationWords(threshold), eta: durationWords(chosen.eta_s) })) : null,
    reason,
    submit,
  );
}

function overrideRow(d, c) {
  const radio = h('input', {
    type: 'radio',
    name: 'override-unit',
    value: c.unit,
    checked: c.unit === d.form.overrideUnit,
    'aria-label': `${t('detail.select')} ${c.call_sign}`,
    dataset: { key: `ovr-${c.unit}` },
  });
  radio.addEventListener('change', () => {
    d.form.overrideUnit = c.unit;
    d.render();
  });
  const far = c.beyond_mutual_aid_eta;
  return h(
    'tr',
    { class: far ? 'far' : '', dataset: { unit: c.unit, eta: String(c.eta_s) } },
    h('td', null, radio),
    h(
      'td',
      null,
      h('strong', null, c.call_sign),
      h('div', { class: 'muted kind' }, label('kind', c.kind)),
      h('div', { class: 'muted' }, `${label('agency', c.agency)} · ${roleLabel(d, c.role)}`),
      far ? h('span', { class: 'tag far' }, t('panel.override_far_tag')) : null,
    ),
    h('td', { class: 'num eta' }, c.eta_s ? etaClock(c.eta_s) : t('panel.no_route')),
    h('td', { class: 'num' }, c.distance_m ? km(c.distance_m) : t('time.none')),
  );
}

/** Ticks the welfare timers of the panel's assignments (`now` in ms). */
export function tickWelfare(d, now) {
  tickDecision(d, now);
  for (const w of d.welfareNodes || []) {
    const seconds = (toServer(now) - w.since) / 1000;
    const text = t(`welfare.${w.status}`, { d: duration(seconds) });
    if (w.text.data !== text) w.text.data = text;
    const level = seconds >= w.limits[1] ? 'red' : seconds >= w.limits[0] ? 'amber' : '';
    if (w.cell.dataset.level !== level) {
      w.cell.dataset.level = level;
      w.cell.classList.toggle('amber', level === 'amber');
      w.cell.classList.toggle('red', level === 'red');
    }
  }
}
