// The unit board: units grouped by agency (then status), by station or by status, with
// counts, positions that are stale or were never reported, and crews past their welfare
// threshold (on scene, at hospital) said on each group even when it is closed; a search
// finds units by call sign, kind, station, agency or status instead of listing them all.
// Call signs are drawn only for the groups a dispatcher opened (1,000 units stay cheap).
import { h } from './dom.js';
import { label, lang, t } from './i18n.js';
import { AGENCIES, AGENCY_COLOUR, STALE_AFTER_S, STATUS_COLOUR, UNIT_STATUSES, positionState, toServer, welfare } from './model.js';
import { durationWords, stationName } from './reasons.js';
import { duration, fold, ms } from './text.js';

const MODES = ['agency', 'station', 'status'];
const MODE_KEY = 'icc.board.group';
// A search shows at most this many units.
const MOST_FOUND = 60;

const byCallSign = (a, b) => (a.call_sign < b.call_sign ? -1 : a.call_sign > b.call_sign ? 1 : 0);

/** Seconds a crew has been on scene or at hospital at `now`, and its level; null when
 * its status has no welfare timer. */
function welfareOf(u, now) {
  const limits = welfare(u.status);
  if (!limits || !u.update_time) return null;
  const seconds = (toServer(now) - ms(u.update_time)) / 1000;
  return { seconds, level: seconds >= limits[1] ? 'red' : seconds >= limits[0] ? 'amber' : '' };
}

export class UnitBoard {
  constructor(el, { onUnit }) {
    this.el = el;
    this.onUnit = onUnit;
    // Groups the dispatcher opened, kept across re-renders: "agency:FIRE:EN_ROUTE".
    this.open = new Set();
    this.timer = null;
    this.units = null;
    this.query = '';
    this.mode = (() => {
      try {
        return MODES.includes(localStorage.getItem(MODE_KEY)) ? localStorage.getItem(MODE_KEY) : 'agency';
      } catch {
        return 'agency';
      }
    })();
    // Chips and group summaries with a welfare timer or overdue count, ticked each second.
    this.timed = [];
    this.overdue = [];
    // Where the board is scrolled, kept as the dispatcher scrolls: reading scrollTop at a
    // re-render would make the browser lay out the page there and then.
    this.scrolled = 0;
    el.addEventListener('scroll', () => (this.scrolled = el.scrollTop), { passive: true });
    this.toolbar = this.buildToolbar();
    el.before(this.toolbar);
    setInterval(() => this.tick(Date.now()), 1000);
  }

  buildToolbar() {
    this.modeSelect = h('select', { id: 'board-group', dataset: { key: 'board-group' } });
    this.modeSelect.addEventListener('change', () => {
      this.mode = this.modeSelect.value;
      try {
        localStorage.setItem(MODE_KEY, this.mode);
      } catch {
        /* private mode: for this page only */
      }
      if (this.units) this.render(this.units);
    });
    this.search = h('input', { id: 'board-search', type: 'search', autocomplete: 'off', dataset: { key: 'board-search' } });
    this.search.addEventListener('input', () => {
      this.query = this.search.value;
      if (this.units) this.render(this.units);
    });
    this.modeLabel = h('label', { for: 'board-group' });
    this.searchLabel = h('label', { for: 'board-search', class: 'visually-hidden' });
    const bar = h('div', { class: 'board-tools' }, this.modeLabel, this.modeSelect, this.searchLabel, this.search);
    this.labelToolbar();
    return bar;
  }

  labelToolbar() {
    this.modeLabel.textContent = t('board.group_by');
    this.searchLabel.textContent = t('board.search');
    this.search.placeholder = t('board.search_placeholder');
    this.search.setAttribute('aria-label', t('board.search'));
    this.modeSelect.replaceChildren(...MODES.map((m) => h('option', { value: m, selected: m === this.mode }, t(`board.by.${m}`))));
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
    this.timed = [];
    this.overdue = [];
    const scroll = this.scrolled;
    if (!units.size) {
      this.el.replaceChildren(h('p', { class: 'empty' }, t('board.none')));
      return;
    }
    const now = Date.now();
    const q = fold(this.query);
    if (q) this.el.replaceChildren(...this.found(units, q, now));
    else if (this.mode === 'agency') this.el.replaceChildren(...this.byAgency(units, now));
    else this.el.replaceChildren(...this.flat(units, now));
    if (scroll) this.el.scrollTop = scroll;
    this.lastRenderMs = performance.now() - started;
  }

  /** Units matching every word of the search, by call sign. */
  found(units, q, now) {
    const words = q.split(' ');
    const hits = [];
    for (const u of units.values()) {
      const text = ` ${fold(u.call_sign)} ${fold(label('kind', u.kind))} ${fold(u.kind)} ${fold(stationName(u.station))} ${fold(u.station)} ${fold(label('agency', u.agency))} ${fold(label('status', u.status))}`;
      if (words.every((w) => text.includes(w))) hits.push(u);
    }
    hits.sort(byCallSign);
    if (!hits.length) return [h('p', { class: 'empty' }, t('board.no_match'))];
    return [h('p', { class: 'board-found muted', role: 'status' }, t('board.matches', { n: hits.length })), this.chips(hits.slice(0, MOST_FOUND), now, true)];
  }

  byAgency(units, now) {
    const groups = new Map();
    for (const u of units.values()) {
      let byStatus = groups.get(u.agency);
      if (!byStatus) groups.set(u.agency, (byStatus = new Map()));
      let list = byStatus.get(u.status);
      if (!list) byStatus.set(u.status, (list = []));
      list.push(u);
    }
    const agencies = [...AGENCIES.filter((a) => groups.has(a)), ...[...groups.keys()].filter((a) => !AGENCIES.includes(a)).sort()];
    return agencies.map((agency) => {
      const byStatus = groups.get(agency);
      const all = [...byStatus.values()].flat();
      const statuses = [...UNIT_STATUSES.filter((s) => byStatus.has(s)), ...[...byStatus.keys()].filter((s) => !UNIT_STATUSES.includes(s))];
      return h(
        'section',
        { class: 'agency', dataset: { agency } },
        h(
          'h3',
          null,
          h('span', { class: 'dot', style: { background: AGENCY_COLOUR[agency] || '#94a3b8' }, 'aria-hidden': 'true' }),
          label('agency', agency),
          this.positionIssues(all, now),
          h('span', { class: 'total' }, t('board.total', { n: all.length })),
        ),
        statuses.map((status) => this.group(`agency:${agency}:${status}`, status, label('status', status), STATUS_COLOUR[status], byStatus.get(status), now)),
      );
    });
  }

  /** One level of groups: by home station (by name) or by status. */
  flat(units, now) {
    const groups = new Map();
    const keyOf = this.mode === 'station' ? (u) => u.station || '' : (u) => u.status;
    for (const u of units.values()) {
      const key = keyOf(u);
      let list = groups.get(key);
      if (!list) groups.set(key, (list = []));
      list.push(u);
    }
    let keys;
    if (this.mode === 'station') {
      const name = (k) => (k ? stationName(k) : t('board.no_station'));
      keys = [...groups.keys()].sort((a, b) => name(a).localeCompare(name(b), lang()));
      return keys.map((k) => this.group(`station:${k}`, k || 'none', name(k), AGENCY_COLOUR[groups.get(k)[0].agency], groups.get(k), now));
    }
    keys = [...UNIT_STATUSES.filter((s) => groups.has(s)), ...[...groups.keys()].filter((s) => !UNIT_STATUSES.includes(s))];
    return keys.map((k) => this.group(`status:${k}`, k, label('status', k), STATUS_COLOUR[k], groups.get(k), now));
  }

  /** "3 no fix · 1 stale": units whose position cannot be trusted, when there are some. */
  positionIssues(list, now) {
    let never = 0;
    let stale = 0;
    for (const u of list) {
      const where = positionState(u, now);
      if (where === 'never') never++;
      else if (where === 'stale') stale++;
    }
    if (!never && !stale) return null;
    const said = [never ? t('board.never_count', { n: never }) : '', stale ? t('board.stale_count', { n: stale }) : ''].filter(Boolean).join(' · ');
    return h('span', { class: 'position-issues', title: t('board.position_tip', { d: durationWords(STALE_AFTER_S) }) }, said);
  }

  group(key, status, title, colour, list, now) {
    const overdue = h('span', { class: 'tag overdue', hidden: true });
    const timed = list.filter((u) => welfare(u.status));
    if (timed.length) this.overdue.push({ el: overdue, units: timed });
    const details = h(
      'details',
      { class: 'status-group', open: this.open.has(key), dataset: { status, group: key } },
      h(
        'summary',
        null,
        h('span', { class: 'dot', style: { background: colour || '#94a3b8' }, 'aria-hidden': 'true' }),
        h('span', { class: 'status-name' }, title),
        overdue,
        h('span', { class: 'count' }, String(list.length)),
      ),
    );
    this.setOverdue(overdue, timed, now);
    if (details.open) details.append(this.chips(list, now));
    details.addEventListener('toggle', () => {
      if (details.open) {
        this.open.add(key);
        if (!details.querySelector('.chips')) details.append(this.chips(list, Date.now()));
      } else {
        this.open.delete(key);
      }
    });
    return details;
  }

  setOverdue(el, units, now) {
    let n = 0;
    let red = false;
    for (const u of units) {
      const w = welfareOf(u, now);
      if (w && w.level) {
        n++;
        red = red || w.level === 'red';
      }
    }
    const text = n ? t('welfare.overdue', { n }) : '';
    if (el.textContent !== text) el.textContent = text;
    el.hidden = !n;
    el.classList.toggle('red', red);
  }

  /** A unit's chip: its call sign, a mark for a position not to trust, a welfare timer. */
  chip(u, now) {
    const where = positionState(u, now);
    const mark = where === 'never' ? t('unit.never_reported_short') : where === 'stale' ? t('unit.stale_short') : '';
    const timer = welfare(u.status) ? h('span', { class: 'welfare' }) : null;
    const tip = [label('kind', u.kind), label('status', u.status), where === 'never' ? t('unit.never_reported') : where === 'stale' ? t('unit.stale_short') : ''].filter(Boolean).join(' · ');
    const el = h(
      'button',
      { type: 'button', class: `chip${where === 'fresh' ? '' : ` ${where}`}`, title: tip, dataset: { unit: u.id, position: where }, onclick: () => this.onUnit(u.id) },
      u.call_sign || u.id,
      mark ? h('span', { class: 'position-mark' }, mark) : null,
      timer,
    );
    if (timer) {
      this.timed.push({ el: timer, unit: u });
      this.setTimer(timer, u, now);
    }
    return el;
  }

  setTimer(el, u, now) {
    const w = welfareOf(u, now);
    if (!w) return;
    const text = duration(w.seconds);
    if (el.textContent !== text) el.textContent = text;
    if (el.dataset.level !== w.level) {
      el.dataset.level = w.level;
      el.classList.toggle('amber', w.level === 'amber');
      el.classList.toggle('red', w.level === 'red');
    }
  }

  chips(list, now, sorted = false) {
    const units = sorted ? list : [...list].sort(byCallSign);
    return h('div', { class: 'chips' }, units.map((u) => this.chip(u, now)));
  }

  /** Welfare timers and overdue counts move with the clock alone. */
  tick(now) {
    for (const x of this.timed) if (x.el.isConnected) this.setTimer(x.el, x.unit, now);
    for (const x of this.overdue) if (x.el.isConnected) this.setOverdue(x.el, x.units, now);
  }

  relabel() {
    this.labelToolbar();
    if (this.units) this.render(this.units);
  }
}
