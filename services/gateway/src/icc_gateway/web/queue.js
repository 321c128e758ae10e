// The incident queue: incidents without a unit first (attention.js), then by priority and
// age; rows updated in place, and live timers ticked once a second for the rows on screen
// only (text and colour, nothing else).
import { compareQueue, needsUnit } from './attention.js';
import { h } from './dom.js';
import { label, lang, t } from './i18n.js';
import { ACTIVE_ASSIGNMENT, THRESHOLDS, timerLevel, times, typeLabel } from './model.js';
import { duration } from './text.js';

/** Text and level of the three timers of an incident at `now` (ms). */
export function timerValues(inc, now) {
  const tm = times(inc);
  const none = t('time.none');
  const call = tm.call == null ? none : duration((now - tm.call) / 1000);
  const dispatch = tm.dispatch == null ? none : duration((now - tm.dispatch) / 1000);
  const scene = tm.scene == null ? none : duration((now - tm.scene) / 1000);
  return {
    call,
    callLevel: tm.call != null && tm.dispatch == null ? timerLevel('call', inc.priority, (now - tm.call) / 1000) : '',
    dispatch,
    dispatchLevel: tm.dispatch != null && tm.scene == null ? timerLevel('dispatch', inc.priority, (now - tm.dispatch) / 1000) : '',
    scene,
  };
}

export function timerTips(priority) {
  const tip = (phase) => {
    const [amber, red] = THRESHOLDS[phase][priority] || THRESHOLDS[phase][4];
    return t(`timer.tip.${phase}`, { p: priority, amber: duration(amber), red: duration(red) });
  };
  return { call: tip('call'), dispatch: tip('dispatch'), scene: t('timer.tip.scene') };
}

// The timers' tips by priority in the screen's language: the same four for every row.
let tipsLang = null;
const tipsByPriority = new Map();
function cachedTips(priority) {
  if (tipsLang !== lang()) {
    tipsLang = lang();
    tipsByPriority.clear();
  }
  let tips = tipsByPriority.get(priority);
  if (!tips) tipsByPriority.set(priority, (tips = timerTips(priority)));
  return tips;
}

/** Sets a text node's data only when it changed (no layout work for equal text). */
function setText(node, text) {
  if (node.data !== text) node.data = text;
}

function setLevel(el, level) {
  if (el.dataset.level !== level) {
    el.dataset.level = level;
    el.classList.toggle('amber', level === 'amber');
    el.classList.toggle('red', level === 'red');
  }
}

// A row of a grid, not a <tr>: off-screen rows then skip layout and paint
// (content-visibility), which a table's rows cannot. Built once, then cloned for each row
// (2,000 rows at a page load); clicks and keys are the queue's (one listener for all rows).
const text = () => document.createTextNode('');
const ROW = h(
  'div',
  { class: 'qrow', role: 'row', tabindex: '0' },
  h('span', { class: 'prio', role: 'cell' }, h('span', { class: 'badge' }, text())),
  h('span', { class: 'what', role: 'cell' }, h('span', { class: 'type' }, h('span', { class: 'tag exercise', hidden: true }, ''), text()), h('span', { class: 'place' }, text())),
  h('span', { class: 'state', role: 'cell' }, h('span', { class: 'state-name' }, text()), h('span', { class: 'units' }, text())),
  h('span', { class: 'timer', role: 'cell' }, text()),
  h('span', { class: 'timer', role: 'cell' }, text()),
  h('span', { class: 'timer', role: 'cell' }, text()),
);

class Row {
  constructor(inc) {
    this.id = inc.id;
    this.tr = ROW.cloneNode(true);
    this.tr.dataset.id = inc.id;
    const prio = this.tr.firstChild;
    const what = prio.nextSibling;
    const state = what.nextSibling;
    this.badge = prio.firstChild;
    this.badgeText = this.badge.firstChild;
    const type = what.firstChild;
    this.exercise = type.firstChild;
    this.typeText = type.lastChild;
    this.placeText = type.nextSibling.firstChild;
    this.stateText = state.firstChild.firstChild;
    this.unitsText = state.lastChild.firstChild;
    this.callCell = state.nextSibling;
    this.callText = this.callCell.firstChild;
    this.dispatchCell = this.callCell.nextSibling;
    this.dispatchText = this.dispatchCell.firstChild;
    this.sceneCell = this.dispatchCell.nextSibling;
    this.sceneText = this.sceneCell.firstChild;
    this.priority = null;
    this.waiting = null;
    this.exercising = null;
    this.update(inc);
  }

  update(inc) {
    this.inc = inc;
    setText(this.badgeText, `P${inc.priority}`);
    if (this.priority !== inc.priority) {
      this.badge.className = `badge p${inc.priority}`;
      this.priority = inc.priority;
      this.tips();
    }
    if (this.exercising !== !!inc.exercise) {
      this.exercising = !!inc.exercise;
      this.exercise.hidden = !inc.exercise;
    }
    setText(this.typeText, typeLabel(inc.type_code));
    setText(this.placeText, [inc.ward, inc.address].filter(Boolean).join(' · '));
    setText(this.stateText, label('state', inc.state));
    if (this.tr.dataset.state !== inc.state) this.tr.dataset.state = inc.state;
    const signs = (inc.assignments || []).filter((a) => ACTIVE_ASSIGNMENT.has(a.state)).map((a) => a.call_sign || a.unit);
    const waiting = needsUnit(inc);
    if (this.waiting !== waiting) {
      this.waiting = waiting;
      this.tr.classList.toggle('waiting', waiting);
    }
    // No unit: says what it waits for (dispatch finds none for a P1/P2; a P3/P4 waits for
    // a dispatcher's decision).
    setText(this.unitsText, waiting ? t(inc.priority <= 2 ? 'queue.no_unit' : 'queue.decision') : signs.join(' '));
  }

  /** Re-reads every label (after a language change). */
  relabel() {
    this.tips();
    this.exercise.textContent = t('exercise.tag');
    this.exercise.title = t('exercise.title');
    setText(this.typeText, typeLabel(this.inc.type_code));
    setText(this.stateText, label('state', this.inc.state));
    if (this.waiting) setText(this.unitsText, t(this.inc.priority <= 2 ? 'queue.no_unit' : 'queue.decision'));
  }

  tips() {
    const tips = cachedTips(this.inc.priority);
    this.callCell.title = tips.call;
    this.dispatchCell.title = tips.dispatch;
    this.sceneCell.title = tips.scene;
    this.exercise.textContent = t('exercise.tag');
    this.exercise.title = t('exercise.title');
  }

  tick(now) {
    const v = timerValues(this.inc, now);
    setText(this.callText, v.call);
    setLevel(this.callCell, v.callLevel);
    setText(this.dispatchText, v.dispatch);
    setLevel(this.dispatchCell, v.dispatchLevel);
    setText(this.sceneText, v.scene);
  }
}

/** Which of `positions` (-1: not placed yet) form a longest strictly increasing
 * subsequence: the rows that can stay where they are. O(n log n). */
function inOrder(positions) {
  const tails = []; // tails[l]: index of the smallest last position of a run of length l + 1
  const before = new Int32Array(positions.length).fill(-1);
  for (let k = 0; k < positions.length; k++) {
    const p = positions[k];
    if (p < 0) continue;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (positions[tails[mid]] < p) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) before[k] = tails[lo - 1];
    tails[lo] = k;
  }
  const stays = new Array(positions.length).fill(false);
  for (let k = tails.length ? tails[tails.length - 1] : -1; k >= 0; k = before[k]) stays[k] = true;
  return stays;
}

export class IncidentQueue {
  /** @param tbody the element rows go to (a rowgroup); @param scroller its scrolling container. */
  constructor(tbody, scroller, { onOpen, onCount }) {
    this.tbody = tbody;
    this.onOpen = onOpen;
    this.onCount = onCount;
    this.rows = new Map();
    this.visible = new Set();
    this.selected = null;
    this.orderDirty = false;
    const rowOf = (e) => {
      const tr = e.target.closest('.qrow');
      return tr && tr.parentNode === tbody ? tr : null;
    };
    tbody.addEventListener('click', (e) => {
      const tr = rowOf(e);
      if (tr) onOpen(tr.dataset.id);
    });
    tbody.addEventListener('keydown', (e) => {
      const tr = rowOf(e);
      if (tr && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        onOpen(tr.dataset.id);
      }
    });
    this.observer = new IntersectionObserver(
      (entries) => {
        const now = Date.now();
        for (const e of entries) {
          const row = this.rows.get(e.target.dataset.id);
          if (!row) continue;
          if (e.isIntersecting) {
            this.visible.add(row);
            row.tick(now);
          } else {
            this.visible.delete(row);
          }
        }
      },
      { root: scroller, rootMargin: '200px 0px' },
    );
  }

  /** Replaces every row with the picture's incidents (rows of incidents still open are kept). */
  reset(incidents) {
    const keep = new Map();
    for (const inc of incidents.values()) {
      const row = this.rows.get(inc.id);
      if (row) {
        row.update(inc);
        keep.set(inc.id, row);
        this.rows.delete(inc.id);
      } else {
        keep.set(inc.id, this.makeRow(inc));
      }
    }
    for (const row of this.rows.values()) this.drop(row);
    this.rows = keep;
    const sorted = [...keep.values()].sort((a, b) => compareQueue(a.inc, b.inc));
    this.tbody.replaceChildren(...sorted.map((r) => r.tr));
    this.orderDirty = false;
    this.markSelected();
    this.tick(Date.now());
    this.onCount(this.rows.size);
  }

  makeRow(inc) {
    const row = new Row(inc);
    this.observer.observe(row.tr);
    return row;
  }

  drop(row) {
    this.observer.unobserve(row.tr);
    this.visible.delete(row);
    row.tr.remove();
  }

  upsert(inc) {
    const row = this.rows.get(inc.id);
    if (row) {
      if (row.inc.priority !== inc.priority || needsUnit(row.inc) !== needsUnit(inc)) this.orderDirty = true;
      row.update(inc);
      if (this.visible.has(row)) row.tick(Date.now());
    } else {
      this.rows.set(inc.id, this.makeRow(inc));
      this.orderDirty = true;
    }
  }

  remove(id) {
    const row = this.rows.get(id);
    if (row) {
      this.drop(row);
      this.rows.delete(id);
    }
  }

  /** Puts rows in queue order after a batch of changes, moving as few rows as can be: the
   * longest run of rows already in order stays, every other row (and each new one) moves
   * next to its neighbour. A row that sinks moves alone, not every row it passes. */
  commit() {
    if (this.orderDirty) {
      const sorted = [...this.rows.values()].sort((a, b) => compareQueue(a.inc, b.inc));
      const at = new Map();
      let i = 0;
      for (let el = this.tbody.firstElementChild; el; el = el.nextElementSibling) at.set(el, i++);
      const stays = inOrder(sorted.map((row) => at.get(row.tr) ?? -1));
      let next = null;
      for (let k = sorted.length - 1; k >= 0; k--) {
        const tr = sorted[k].tr;
        if (!stays[k]) this.tbody.insertBefore(tr, next);
        next = tr;
      }
      this.orderDirty = false;
      this.markSelected();
    }
    this.onCount(this.rows.size);
  }

  /** Puts the keyboard on the selected row, else the first (arrows then move, Enter opens). */
  focus() {
    const row = (this.selected && this.rows.get(this.selected)) || null;
    const el = row ? row.tr : this.tbody.firstElementChild;
    if (el) {
      el.focus();
      el.scrollIntoView({ block: 'nearest' });
    }
    return !!el;
  }

  select(id) {
    this.selected = id;
    this.markSelected();
  }

  markSelected() {
    for (const el of this.tbody.querySelectorAll('.qrow.selected')) {
      el.classList.remove('selected');
      el.removeAttribute('aria-selected');
    }
    const row = this.selected && this.rows.get(this.selected);
    if (row) {
      row.tr.classList.add('selected');
      row.tr.setAttribute('aria-selected', 'true');
    }
  }

  /** Once a second: the timers of the rows on screen. */
  tick(now) {
    for (const row of this.visible) row.tick(now);
  }

  relabel() {
    for (const row of this.rows.values()) row.relabel();
    this.tick(Date.now());
  }
}
