// The unit board: units grouped by agency, then status, with counts and call signs.
// Call signs are drawn only for the groups a dispatcher opened (1,000 units stay cheap).
import { h } from './dom.js';
import { label, t } from './i18n.js';
import { AGENCIES, AGENCY_COLOUR, STATUS_COLOUR, UNIT_STATUSES } from './model.js';

export class UnitBoard {
  constructor(el, { onUnit }) {
    this.el = el;
    this.onUnit = onUnit;
    // Groups the dispatcher opened, kept across re-renders: "FIRE:EN_ROUTE".
    this.open = new Set();
    this.timer = null;
    this.units = null;
  }

  /** Renders soon (at most every 400 ms while units keep changing). */
  schedule(units) {
    this.units = units;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.render(this.units);
    }, 400);
  }

  render(units) {
    const started = performance.now();
    this.units = units;
    const groups = new Map();
    for (const u of units.values()) {
      let byStatus = groups.get(u.agency);
      if (!byStatus) groups.set(u.agency, (byStatus = new Map()));
      let list = byStatus.get(u.status);
      if (!list) byStatus.set(u.status, (list = []));
      list.push(u);
    }
    const agencies = [...AGENCIES.filter((a) => groups.has(a)), ...[...groups.keys()].filter((a) => !AGENCIES.includes(a)).sort()];
    const scroll = this.el.scrollTop;
    if (!agencies.length) {
      this.el.replaceChildren(h('p', { class: 'empty' }, t('board.none')));
      return;
    }
    this.el.replaceChildren(
      ...agencies.map((agency) => {
        const byStatus = groups.get(agency);
        const total = [...byStatus.values()].reduce((n, l) => n + l.length, 0);
        const statuses = [...UNIT_STATUSES.filter((s) => byStatus.has(s)), ...[...byStatus.keys()].filter((s) => !UNIT_STATUSES.includes(s))];
        return h(
          'section',
          { class: 'agency', dataset: { agency } },
          h(
            'h3',
            null,
            h('span', { class: 'dot', style: { background: AGENCY_COLOUR[agency] || '#94a3b8' }, 'aria-hidden': 'true' }),
            label('agency', agency),
            h('span', { class: 'total' }, t('board.total', { n: total })),
          ),
          statuses.map((status) => this.group(agency, status, byStatus.get(status))),
        );
      }),
    );
    this.el.scrollTop = scroll;
    this.lastRenderMs = performance.now() - started;
  }

  group(agency, status, list) {
    const key = `${agency}:${status}`;
    const details = h(
      'details',
      { class: 'status-group', open: this.open.has(key), dataset: { status } },
      h(
        'summary',
        null,
        h('span', { class: 'dot', style: { background: STATUS_COLOUR[status] || '#94a3b8' }, 'aria-hidden': 'true' }),
        h('span', { class: 'status-name' }, label('status', status)),
        h('span', { class: 'count' }, String(list.length)),
      ),
    );
    const chips = () =>
      h(
        'div',
        { class: 'chips' },
        list
          .sort((a, b) => (a.call_sign < b.call_sign ? -1 : 1))
          .map((u) => h('button', { type: 'button', class: 'chip', title: label('kind', u.kind), onclick: () => this.onUnit(u.id) }, u.call_sign || u.id)),
      );
    if (details.open) details.append(chips());
    details.addEventListener('toggle', () => {
      if (details.open) {
        this.open.add(key);
        if (!details.querySelector('.chips')) details.append(chips());
      } else {
        this.open.delete(key);
      }
    });
    return details;
  }

  relabel() {
    if (this.units) this.render(this.units);
  }
}
