// The incident panel's dispatch tab: dispatch status, the assignments with their actions,
// the recommendation to assign from, an override, and closing the incident. Built from the
// panel's fetched data and its form state (`d`, the IncidentDetail), so a refresh loses
// no input; a dispatcher's controls only for dispatchers and open incidents.
import { ApiError } from './api.js';
import { h, thead } from './dom.js';
import { label, t } from './i18n.js';
import { ACTIVE_ASSIGNMENT, OPEN_STATES, UNIT_STATUSES, can } from './model.js';
import { clockTime, shortId } from './text.js';

const bareId = (name) => (name || '').split('/').pop();
const shortfallText = (list) => list.map((x) => t('detail.shortfall', { role: label('plan', x.role), n: x.missing })).join('; ');

/** An inline form of the panel whose submit runs `action(submitter)`. */
function inlineForm(id, action, ...children) {
  return h('form', { class: 'inline-form', id, onsubmit: (e) => (e.preventDefault(), action(e.submitter)) }, ...children);
}

export function dispatchTab(d, inc) {
  const dispatcher = can(d.ctx.user(), 'dispatcher') && OPEN_STATES.has(inc.state);
  const status = d.data.dispatch instanceof ApiError ? null : d.data.dispatch;
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
      out.push(h('p', { class: 'shortfalls' }, `${t('detail.shortfalls')}: ${shortfallText(status.shortfalls)}`));
    }
  }
  out.push(h('h3', null, t('detail.assignments')));
  out.push(assignments.length ? assignmentTable(d, assignments, dispatcher) : h('p', { class: 'muted' }, t('detail.no_assignments')));
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

function assignmentTable(d, assignments, dispatcher) {
  const sorted = [...assignments].sort((a, b) => (ACTIVE_ASSIGNMENT.has(b.state) ? 1 : 0) - (ACTIVE_ASSIGNMENT.has(a.state) ? 1 : 0));
  return h(
    'table',
    { class: 'grid assignments' },
    thead(t('detail.unit'), t('detail.state'), dispatcher ? t('detail.actions') : null),
    h(
      'tbody',
      null,
      sorted.map((a) => assignmentRow(d, a, dispatcher)),
    ),
  );
}

function assignmentRow(d, a, dispatcher) {
  const id = a.id || bareId(a.name);
  const unitId = bareId(a.unit);
  const unit = d.ctx.picture.units.get(unitId);
  const live = ACTIVE_ASSIGNMENT.has(a.state);
  const role = a.role && label('plan', a.role);
  const kind = label('kind', a.kind);
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
          `${i.count} × ${label('plan', i.role)} · ${label('agency', i.agency)} (${(i.kinds || []).map((k) => label('kind', k)).join(', ')})`,
          i.first ? h('span', { class: 'tag' }, t('detail.plan_first')) : null,
        ),
      ),
    ),
  );
  if (rec.shortfalls && rec.shortfalls.length) {
    out.push(h('p', { class: 'shortfalls' }, `${t('detail.shortfalls')}: `, shortfallText(rec.shortfalls)));
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
          thead(
            t('detail.select'),
            t('detail.unit'),
            t('detail.role'),
            { class: 'num', text: t('detail.eta') },
            { class: 'num', text: t('detail.distance') },
            t('detail.reasons'),
          ),
          h(
            'tbody',
            null,
            candidates.map((c) => candidateRow(d, c)),
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
    h('td', null, h('strong', null, c.call_sign), h('div', { class: 'muted' }, `${label('agency', c.agency)} · ${label('kind', c.kind)}`)),
    h('td', null, label('plan', c.role), c.mutual_aid ? h('span', { class: 'tag' }, t('detail.mutual_aid')) : null),
    h('td', { class: 'num' }, c.eta_s != null ? (c.eta_s / 60).toFixed(1) : '—'),
    h('td', { class: 'num' }, c.distance_m != null ? (c.distance_m / 1000).toFixed(1) : '—'),
    h('td', null, h('ul', { class: 'reasons' }, (c.reasons || []).map((r) => h('li', null, r)))),
  );
}

function override(d, assignments) {
  const taken = new Set(assignments.filter((a) => ACTIVE_ASSIGNMENT.has(a.state)).map((a) => bareId(a.unit)));
  const available = [...d.ctx.picture.units.values()]
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
      h('optgroup', { label: label('agency', agency) }, list.map((u) => h('option', { value: u.id, selected: u.id === d.form.overrideUnit }, `${u.call_sign} · ${label('kind', u.kind)}`))),
    ),
  );
  select.addEventListener('change', () => (d.form.overrideUnit = select.value));
  return inlineForm(
    'override-form',
    (button) => d.overrideAssign(button),
    h('h3', null, t('detail.override')),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'override-unit' }, t('detail.override_unit')),
      select,
      h('small', { class: 'field-error', id: 'override-unit-err', dataset: { field: 'units', for: 'override-unit' } }),
    ),
    d.input('override-reason', 'override_reason', t('detail.override_reason'), d.form.overrideReason, (v) => (d.form.overrideReason = v)),
    h('button', { type: 'submit', dataset: { key: 'override' } }, t('detail.override_submit')),
  );
}
