// What needs a dispatcher now: incidents without a unit sort with the urgent ones, and alerts
// (a new P1/P2, a unit that did not acknowledge in time, an incident left without a unit too
// long) stay on screen, with a tone, until this dispatcher acknowledges them. Thresholds are
// in alert-rules.js; acknowledgements are kept per dispatcher in this browser.
import { ALERT_RULES } from './alert-rules.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { ACTIVE_ASSIGNMENT, OPEN_STATES, times, typeLabel } from './model.js';
import { duration } from './text.js';

/** Whether an open incident has no unit working on it: never dispatched, or every unit
 * released before one reached the scene. Cached per version of the item (items are
 * replaced, never changed, when the picture changes). */
export function needsUnit(inc) {
  if (inc._w === undefined) {
    inc._w = OPEN_STATES.has(inc.state) && !inc.first_on_scene_time && !(inc.assignments || []).some((a) => ACTIVE_ASSIGNMENT.has(a.state));
  }
  return inc._w;
}

/** Queue order: incidents without a unit first (a P3 waiting for a decision above a P1
 * being handled), then priority (P1 before P4), the oldest call, the id. */
export function compareQueue(a, b) {
  return (
    (needsUnit(a) ? 0 : 1) - (needsUnit(b) ? 0 : 1) ||
    a.priority - b.priority ||
    times(a).call - times(b).call ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

const ACK_PREFIX = 'icc.alerts.ack.';
const SOUND_KEY = 'icc.alerts.sound';

function load(key, fallback) {
  try {
    const v = localStorage.getItem(key);
    return v == null ? fallback : JSON.parse(v);
  } catch {
    return fallback;
  }
}

function save(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode: remembered for this page only */
  }
}

/** Two short tones through Web Audio (no sound file). Browsers start audio only after a
 * click or a key on the page: until then the state is 'blocked' and the header says so. */
class Tone {
  constructor() {
    this.enabled = load(SOUND_KEY, true) !== false;
    this.ctx = null;
    this.played = 0;
  }

  /** Called on the page's first clicks and keys: audio may start from such a gesture. */
  arm() {
    if (!this.enabled) return;
    try {
      if (!this.ctx) {
        this.ctx = new AudioContext();
        // Running, or suspended again by the browser: the header shows which.
        this.ctx.addEventListener('statechange', () => this.onchange && this.onchange());
      }
      if (this.ctx.state === 'suspended') this.ctx.resume();
    } catch {
      this.ctx = null;
    }
  }

  get state() {
    if (!this.enabled) return 'off';
    return this.ctx && this.ctx.state === 'running' ? 'on' : 'blocked';
  }

  toggle() {
    this.enabled = !this.enabled;
    save(SOUND_KEY, this.enabled);
    if (this.enabled) this.arm();
  }

  play(urgent) {
    if (this.state !== 'on') return false;
    const now = this.ctx.currentTime;
    for (const [i, freq] of (urgent ? [880, 660, 880] : [660, 880]).entries()) {
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.2);
      gain.gain.exponentialRampToValueAtTime(0.25, now + i * 0.2 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.2 + 0.18);
      osc.connect(gain).connect(this.ctx.destination);
      osc.start(now + i * 0.2);
      osc.stop(now + i * 0.2 + 0.2);
    }
    this.played++;
    return true;
  }
}

export class AlertCenter {
  /** @param el where alerts are shown; @param soundButton the header's sound switch;
   * ctx: {user(), onOpen(id)} */
  constructor(el, soundButton, ctx) {
    this.el = el;
    this.soundButton = soundButton;
    this.ctx = ctx;
    this.rules = ALERT_RULES;
    // key -> {key, kind, incident, priority, time, unit}
    this.alerts = new Map();
    // incident id -> its alerts' keys: an incident that leaves drops its alerts without a
    // look at every other one (a burst closes dozens among hundreds of alerts).
    this.byIncident = new Map();
    this.acks = {};
    this.ackKey = null;
    this.seen = false; // a first snapshot was applied
    // key -> the element of an alert on screen ({alert, el, title, where}: its text nodes)
    this.items = null;
    this.foot = null;
    this.lastTone = 0;
    this.dirty = false;
    this.tone = new Tone();
    this.tone.onchange = () => this.renderSound();
    this.raised = 0;
    const arm = () => {
      this.tone.arm();
      this.renderSound();
    };
    document.addEventListener('pointerdown', arm, true);
    document.addEventListener('keydown', arm, true);
    soundButton.addEventListener('click', () => {
      this.tone.toggle();
      this.renderSound();
    });
    // Signed in by a click a moment ago: sound may start now, without waiting for another.
    if (navigator.userActivation && navigator.userActivation.hasBeenActive) this.tone.arm();
    this.renderSound();
  }

  /** A dispatcher signed in: their acknowledgements, older ones forgotten. */
  setUser(user) {
    this.ackKey = user ? ACK_PREFIX + user.username : null;
    const kept = (this.ackKey && load(this.ackKey, {})) || {};
    const oldest = Date.now() - this.rules.keepAckS * 1000;
    this.acks = Object.fromEntries(Object.entries(kept).filter(([, at]) => at > oldest));
    this.alerts.clear();
    this.byIncident.clear();
    this.seen = false;
    this.render();
  }

  // --- what raises an alert ---------------------------------------------------------------

  raise(alert) {
    if (this.alerts.has(alert.key) || this.acks[alert.key]) return;
    this.alerts.set(alert.key, { time: Date.now(), ...alert });
    let keys = this.byIncident.get(alert.incident);
    if (!keys) this.byIncident.set(alert.incident, (keys = new Set()));
    keys.add(alert.key);
    this.raised++;
    this.dirty = true;
  }

  /** The whole picture (a page load or a reconnect): what arrived meanwhile alerts, if
   * recent; what left it drops. */
  snapshot(incidents) {
    const recent = Date.now() - this.rules.recentS * 1000;
    for (const id of [...this.byIncident.keys()]) if (!incidents.has(id)) this.drop(id);
    for (const inc of incidents.values()) {
      if ((times(inc).call ?? 0) >= recent) this.newIncident(inc);
      this.escalations(null, inc, recent);
    }
    this.seen = true;
    this.flush();
  }

  /** An incident changed (before the picture holds the new version): `prev` is the old one. */
  change(prev, inc) {
    if (!OPEN_STATES.has(inc.state)) {
      this.drop(inc.id);
      return;
    }
    if (!prev || inc.priority < prev.priority) this.newIncident(inc, !!prev);
    this.escalations(prev, inc, 0);
    if (!needsUnit(inc)) this.clear(`wait:${inc.id}`);
  }

  newIncident(inc, raised = false) {
    if (!this.rules.newPriorities.includes(inc.priority)) return;
    this.raise({ key: `new:${inc.id}:${inc.priority}`, kind: 'new', raised, incident: inc.id, priority: inc.priority });
  }

  escalations(prev, inc, since) {
    for (const a of inc.assignments || []) {
      if (!a.escalated) continue;
      if (prev && (prev.assignments || []).some((b) => b.id === a.id && b.escalated)) continue;
      if (since && a.release_time && Date.parse(a.release_time) < since) continue;
      this.raise({ key: `esc:${a.id}`, kind: 'escalation', incident: inc.id, priority: inc.priority, unit: a.call_sign || a.unit });
    }
  }

  /** Once a second: incidents left without a unit too long. */
  tick(now, incidents) {
    if (!this.seen) return;
    for (const inc of incidents.values()) {
      if (!needsUnit(inc)) continue;
      const limit = this.rules.waitingS[inc.priority] ?? this.rules.waitingS[4];
      const call = times(inc).call;
      if (call != null && now - call >= limit * 1000) this.raise({ key: `wait:${inc.id}`, kind: 'waiting', incident: inc.id, priority: inc.priority });
    }
    const urgent = this.any((a) => this.rules.repeatKinds.includes(a.kind));
    if (urgent && now - this.lastTone >= this.rules.repeatS * 1000) this.sound(true);
    this.flush(now);
  }

  /** Shows what was raised since the last call, with a tone for anything new. */
  flush(now = Date.now()) {
    if (this.dirty) {
      this.dirty = false;
      this.sound(this.any((a) => a.kind !== 'waiting'));
    }
    this.render(now);
  }

  /** Whether an alert shown is such that `test(alert)`. */
  any(test) {
    for (const a of this.alerts.values()) if (test(a)) return true;
    return false;
  }

  sound(urgent) {
    if (!this.alerts.size) return;
    if (this.tone.play(urgent)) this.lastTone = Date.now();
    this.renderSound();
  }

  // --- what ends one -----------------------------------------------------------------

  /** An alert no longer true (the incident got a unit): gone without an acknowledgement. */
  clear(key) {
    if (this.forget(key)) this.dirty = true;
  }

  /** Removes one alert from both maps; whether there was one. */
  forget(key) {
    const a = this.alerts.get(key);
    if (!a) return false;
    this.alerts.delete(key);
    const keys = this.byIncident.get(a.incident);
    if (keys && keys.delete(key) && !keys.size) this.byIncident.delete(a.incident);
    return true;
  }

  /** The incident left the screen (closed, cancelled, merged). */
  drop(incidentId) {
    const keys = this.byIncident.get(incidentId);
    if (!keys) return;
    for (const key of keys) this.alerts.delete(key);
    this.byIncident.delete(incidentId);
  }

  acknowledge(key) {
    this.acks[key] = Date.now();
    this.forget(key);
    if (this.ackKey) save(this.ackKey, this.acks);
    this.render();
  }

  /** Every alert about an incident this screen just created (the dispatcher knows). */
  acknowledgeIncident(incidentId) {
    for (const p of this.rules.newPriorities) this.acks[`new:${incidentId}:${p}`] = Date.now();
    this.drop(incidentId);
    if (this.ackKey) save(this.ackKey, this.acks);
    this.render();
  }

  acknowledgeAll() {
    for (const key of this.alerts.keys()) this.acks[key] = Date.now();
    this.alerts.clear();
    this.byIncident.clear();
    if (this.ackKey) save(this.ackKey, this.acks);
    this.render();
  }

  /** The most urgent alert shown, or null. */
  first() {
    return this.ordered(1)[0] || null;
  }

  /** The `most` most urgent alerts (every one when not given), most urgent first: by
   * priority, then the latest raised, then the order they were raised in. Picking the few
   * shown does not sort the hundreds a busy picture raises. */
  ordered(most = Infinity) {
    const before = (a, b) => a.priority - b.priority || b.time - a.time;
    if (most >= this.alerts.size) return [...this.alerts.values()].sort(before);
    const top = [];
    for (const a of this.alerts.values()) {
      if (top.length === most && before(a, top[most - 1]) >= 0) continue;
      let i = top.length;
      while (i > 0 && before(a, top[i - 1]) < 0) i--;
      top.splice(i, 0, a);
      if (top.length > most) top.pop();
    }
    return top;
  }

  // --- showing ---------------------------------------------------------------------------

  /** Shows the most urgent alerts. Called with every batch of changes and every second:
   * an alert still shown keeps its element, and only text that changed is written. */
  render(now = Date.now()) {
    const picture = this.ctx.picture;
    const count = this.alerts.size;
    const shown = this.ordered(this.rules.shown);
    this.el.hidden = !count;
    const items = new Map();
    for (const a of shown) {
      const kept = this.items?.get(a.key);
      // The same alert (one raised again, e.g. at another priority, is drawn anew).
      const item = kept && kept.alert === a ? kept : this.item(a);
      this.fillItem(item, a, picture.incidents.get(a.incident), now);
      items.set(a.key, item);
    }
    this.items = items;
    const children = [...items.values()].map((item) => item.el);
    if (count > 1) children.push(this.footFor(count - shown.length));
    const same = children.length === this.el.children.length && children.every((el, i) => el === this.el.children[i]);
    if (same) return;
    const focused = this.el.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    this.el.replaceChildren(...children);
    if (focused) this.el.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  }

  /** The foot under several alerts: how many more, and acknowledge them all. */
  footFor(more) {
    if (!this.foot) {
      this.moreText = h('span', null);
      this.foot = h(
        'div',
        { class: 'alert-foot' },
        this.moreText,
        h('button', { type: 'button', class: 'small', dataset: { key: 'ack-all' }, onclick: () => this.acknowledgeAll() }, t('alert.ack_all')),
      );
    }
    const text = more > 0 ? t('alert.more', { n: more }) : '';
    if (this.moreText.textContent !== text) this.moreText.textContent = text;
    this.moreText.hidden = !text;
    return this.foot;
  }

  /** An alert's element; its texts are written by fillItem. */
  item(a) {
    const title = h('strong', null, '');
    const where = h('span', null, '');
    const el = h(
      'div',
      { class: `alert-item ${a.kind} p${a.priority}`, role: 'group', dataset: { alert: a.key, kind: a.kind, incident: a.incident } },
      h('span', { class: `badge p${a.priority}` }, `P${a.priority}`),
      h('div', { class: 'alert-text' }, title, where),
      h(
        'div',
        { class: 'alert-actions' },
        h('button', { type: 'button', class: 'small', dataset: { key: `open-${a.key}` }, onclick: () => this.ctx.onOpen(a.incident) }, t('alert.open')),
        h('button', { type: 'button', class: 'small primary', dataset: { key: `ack-${a.key}` }, onclick: () => this.acknowledge(a.key) }, t('alert.ack')),
      ),
    );
    return { alert: a, el, title: title.firstChild, where: where.firstChild };
  }

  fillItem(item, a, inc, now) {
    const where = inc ? [typeLabel(inc.type_code), inc.ward || inc.address].filter(Boolean).join(' · ') : '';
    const call = inc ? times(inc).call : null;
    const waited = call == null ? '' : duration((now - call) / 1000);
    const title =
      a.kind === 'new'
        ? t(a.raised ? 'alert.raised' : 'alert.new', { p: a.priority })
        : a.kind === 'escalation'
          ? t('alert.escalation', { unit: a.unit })
          : t(a.priority <= 2 ? 'alert.no_unit' : 'alert.decision', { d: waited });
    if (item.title.data !== title) {
      item.title.data = title;
      item.el.setAttribute('aria-label', title);
    }
    if (item.where.data !== where) item.where.data = where;
  }

  renderSound() {
    const state = this.tone.state;
    this.soundButton.dataset.state = state;
    this.soundButton.textContent = t(`sound.${state}`);
    this.soundButton.title = t(`sound.${state}_tip`);
    this.soundButton.setAttribute('aria-pressed', state === 'off' ? 'false' : 'true');
  }

  relabel() {
    this.renderSound();
    // Every element again: the buttons' words are in the new language.
    this.items = null;
    this.foot = null;
    this.render();
  }
}
