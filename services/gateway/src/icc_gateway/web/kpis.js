// The KPI strip: response times of the last hour from GET /api/v1/kpis (API.md), refreshed
// every 10 s and soon after a notable change of the picture (an incident created, first
// dispatched, first on scene or closed). Calls in the window, incidents waiting for units
// (P1/P2 dispatch found none for, P3/P4 awaiting a dispatcher's decision), units busy; per agency the median call -> dispatch and call -> on scene, and the share of
// P1 incidents reached within the agency's target (green / amber / red).
import { api } from './api.js';
import { h, thead } from './dom.js';
import { t } from './i18n.js';
import { AGENCY_COLOUR } from './model.js';
import { duration } from './text.js';

const AGENCIES = ['POLICE', 'FIRE', 'MEDICAL'];
const EXERCISE = ['include', 'exclude', 'only'];
const EXERCISE_KEY = 'icc.kpi.exercise';
const EVERY_MS = 10000;
// A notable change refreshes after this (changes come in bursts), at most this often.
const SOON_MS = 1000;
const MIN_GAP_MS = 3000;
// P1 within target: green from 90 %, amber from 75 %, red below.
export const SHARE_LEVELS = { green: 0.9, amber: 0.75 };

export function shareLevel(share) {
  if (share == null) return '';
  return share >= SHARE_LEVELS.green ? 'green' : share >= SHARE_LEVELS.amber ? 'amber' : 'red';
}

const seconds = (s) => (s == null ? t('time.none') : duration(s));
const percent = (x) => (x == null ? t('time.none') : `${Math.round(x * 100)}%`);

function savedExercise() {
  try {
    const saved = localStorage.getItem(EXERCISE_KEY);
    return EXERCISE.includes(saved) ? saved : 'include';
  } catch {
    return 'include';
  }
}

export class KpiPanel {
  /** @param section the panel (hidden while there are no KPIs); @param body where they go. */
  constructor(section, body, { onIncident }) {
    this.section = section;
    this.body = body;
    this.onIncident = onIncident;
    this.data = null;
    this.exercise = savedExercise();
    this.timer = null;
    this.soonTimer = null;
    this.last = 0;
    this.running = false;
    this.generation = 0;
    this.select = h(
      'select',
      { class: 'kpi-exercise', 'aria-label': t('kpi.exercise_label'), title: t('kpi.exercise_label') },
      EXERCISE.map((v) => h('option', { value: v, selected: v === this.exercise }, t(`kpi.exercise.${v}`))),
    );
    this.select.addEventListener('change', () => {
      this.exercise = this.select.value;
      try {
        localStorage.setItem(EXERCISE_KEY, this.exercise);
      } catch {
        /* private mode: for this page only */
      }
      this.refresh();
    });
    section.querySelector('.kpi-head').append(this.select);
    document.addEventListener('visibilitychange', () => {
      if (this.running && !document.hidden) this.refresh();
    });
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.refresh();
  }

  stop() {
    this.running = false;
    this.generation++;
    clearTimeout(this.timer);
    clearTimeout(this.soonTimer);
    this.soonTimer = null;
  }

  /** The picture changed notably: refresh soon, not more often than every few seconds. */
  soon() {
    if (!this.running || this.soonTimer) return;
    const wait = Math.max(SOON_MS, this.last + MIN_GAP_MS - Date.now());
    this.soonTimer = setTimeout(() => {
      this.soonTimer = null;
      this.refresh();
    }, wait);
  }

  async refresh() {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), EVERY_MS);
    if (document.hidden) return; // refreshed when the tab shows again
    const generation = ++this.generation;
    this.last = Date.now();
    try {
      const data = await api(`/kpis?exercise=${this.exercise}`);
      if (generation !== this.generation) return;
      this.data = data;
      this.section.classList.remove('stale');
      this.render();
    } catch (err) {
      if (generation !== this.generation) return;
      if (err.status === 404) {
        // A gateway without KPIs: the screen works without them.
        this.stop();
        this.section.hidden = true;
        return;
      }
      this.section.classList.add('stale');
      this.section.title = t('kpi.stale');
    }
  }

  render() {
    const k = this.data;
    if (!k) return;
    this.section.hidden = false;
    this.section.title = '';
    const minutes = Math.round(k.window_s / 60);
    this.section.querySelector('.kpi-window').textContent = t('kpi.window', { n: minutes });
    const target = { class: 'num', title: t('kpi.median_help') };
    this.body.replaceChildren(
      this.summary(k, minutes),
      h(
        'table',
        { class: 'grid kpi-table' },
        thead(t('kpi.agency'), { ...target, text: t('kpi.to_dispatch') }, { ...target, text: t('kpi.to_scene') }, { class: 'num', text: t('kpi.p1_target') }),
        h('tbody', null, AGENCIES.map((a) => this.row(a, k))),
      ),
    );
  }

  /** The line above the table: calls in the window, incidents waiting for units, units busy. */
  summary(k, minutes) {
    const units = k.units;
    const inService = units.total - units.out_of_service;
    const waiting = k.waiting;
    const deciding = waiting.awaiting_dispatcher || 0;
    const waitingBody = [
      h('strong', null, String(waiting.count)),
      ' ',
      t('kpi.waiting'),
      deciding ? h('span', { class: 'kpi-deciding' }, ` (${t('kpi.waiting_decision', { n: deciding })})`) : null,
    ];
    const waitingTip = t('kpi.waiting_tip', { s: Math.round(waiting.after_s) });
    return h(
      'div',
      { class: 'kpi-summary' },
      h(
        'span',
        { class: 'kpi', dataset: { kpi: 'calls' }, title: t('kpi.calls_tip', { n: minutes, x: k.calls.exercise }) },
        h('strong', null, String(k.calls.total)),
        ' ',
        t('kpi.calls'),
      ),
      waiting.count
        ? h(
            'button',
            {
              type: 'button',
              class: 'kpi small alert',
              dataset: { kpi: 'waiting' },
              title: `${waitingTip} ${t('kpi.waiting_oldest', { d: seconds(waiting.oldest_s) })}`,
              onclick: () => waiting.incidents.length && this.onIncident(waiting.incidents[0]),
            },
            waitingBody,
          )
        : h('span', { class: 'kpi', dataset: { kpi: 'waiting' }, title: waitingTip }, waitingBody),
      h(
        'span',
        { class: 'kpi', dataset: { kpi: 'busy' }, title: t('kpi.busy_tip', { busy: units.busy, n: inService }) },
        h('strong', null, percent(units.utilisation)),
        ' ',
        t('kpi.busy'),
      ),
    );
  }


  row(agency, k) {
    const cell = (kind, spread) =>
      h(
        'td',
        {
          class: 'num',
          dataset: { kpi: `${kind}-${agency}` },
          title: spread ? t('kpi.median_tip', { p90: seconds(spread.p90_s), n: spread.n, pending: spread.pending }) : null,
        },
        seconds(spread && spread.p50_s),
      );
    const target = k.p1_within_target[agency];
    const level = target ? shareLevel(target.share) : '';
    return h(
      'tr',
      { dataset: { agency } },
      h('th', { scope: 'row' }, h('span', { class: 'dot', style: { background: AGENCY_COLOUR[agency] }, 'aria-hidden': 'true' }), t(`kpi.short.${agency}`)),
      cell('dispatch', k.call_to_dispatch.by_agency[agency]),
      cell('scene', k.call_to_on_scene.by_agency[agency]),
      h(
        'td',
        {
          class: `num share ${level}`,
          dataset: { kpi: `target-${agency}`, level },
          title: target ? t('kpi.target_tip', { target: duration(target.target_s), reached: target.reached, missed: target.missed, pending: target.pending }) : null,
        },
        target ? percent(target.share) : t('time.none'),
      ),
    );
  }

  relabel() {
    this.select.setAttribute('aria-label', t('kpi.exercise_label'));
    this.select.title = t('kpi.exercise_label');
    for (const option of this.select.options) option.textContent = t(`kpi.exercise.${option.value}`);
    this.render();
  }
}
