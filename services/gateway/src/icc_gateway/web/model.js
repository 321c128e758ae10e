// The screen's shared vocabulary: the picture (incidents, units, hospitals), the incident type
// catalog, colours, timer thresholds and what each role may do.
import { ALERT_RULES } from './alert-rules.js';
import { lang } from './i18n.js';
import { ms } from './text.js';

export const PRIORITIES = [1, 2, 3, 4];
export const AGENCIES = ['POLICE', 'FIRE', 'MEDICAL', 'COMMAND_CENTER', 'UTILITY'];
export const AGENCY_COLOUR = { POLICE: '#2563eb', FIRE: '#dc2626', MEDICAL: '#16a34a', COMMAND_CENTER: '#7c3aed', UTILITY: '#d97706' };
export const UNIT_STATUSES = ['AVAILABLE', 'DISPATCHED', 'EN_ROUTE', 'ON_SCENE', 'TRANSPORTING', 'AT_HOSPITAL', 'OUT_OF_SERVICE'];
export const STATUS_COLOUR = {
  AVAILABLE: '#f8fafc',
  DISPATCHED: '#facc15',
  EN_ROUTE: '#f97316',
  ON_SCENE: '#c026d3',
  TRANSPORTING: '#06b6d4',
  AT_HOSPITAL: '#0e7490',
  OUT_OF_SERVICE: '#6b7280',
};
export const OPEN_STATES = new Set(['NEW', 'DISPATCHED', 'EN_ROUTE', 'ON_SCENE']);
export const ACTIVE_ASSIGNMENT = new Set(['PROPOSED', 'ASSIGNED', 'ACKNOWLEDGED']);

// Timer thresholds in seconds per priority: [amber, red].
// Call -> first dispatch: P1 is dispatched automatically, so a minute is already slow.
// First dispatch -> first on scene: the city's response-time targets, looser for low priorities.
export const THRESHOLDS = {
  call: { 1: [60, 120], 2: [120, 240], 3: [300, 600], 4: [600, 1200] },
  dispatch: { 1: [480, 720], 2: [720, 1200], 3: [1200, 1800], 4: [1800, 3600] },
};

// Crew welfare ([amber, red] seconds by unit status) and when a position is stale: data in
// alert-rules.js, with the other thresholds that draw a dispatcher's attention.
export const WELFARE = ALERT_RULES.welfareS;
export const welfare = (status) => WELFARE[status] || null;
export const STALE_AFTER_S = ALERT_RULES.staleS;

// The gateway's clock minus this browser's (ms), from the last snapshot's `server_time`:
// a position is a minute from stale, so a dispatcher's PC whose clock is off must not
// make every unit look stale (or none).
let clockOffset = 0;
export function setServerTime(iso) {
  const at = Date.parse(iso);
  if (Number.isFinite(at)) clockOffset = at - Date.now();
}
/** This browser's time `now` (ms) on the gateway's clock. */
export const toServer = (now) => now + clockOffset;

/** 'never' (no position ever: drawn at its station), 'stale' or 'fresh' at `now` (ms). */
export function positionState(u, now) {
  if (u.lat == null || u.lon == null) return 'never';
  // A position without its time (a gateway older than position_time): nothing to judge.
  if (!u.position_time) return 'fresh';
  if (!u._p) u._p = ms(u.position_time);
  return toServer(now) - u._p > STALE_AFTER_S * 1000 ? 'stale' : 'fresh';
}

export function timerLevel(phase, priority, seconds) {
  const [amber, red] = THRESHOLDS[phase][priority] || THRESHOLDS[phase][4];
  return seconds >= red ? 'red' : seconds >= amber ? 'amber' : '';
}

const ROLE_RANK = { viewer: 0, call_taker: 1, dispatcher: 2, supervisor: 3 };
/** Whether `user` has at least `role` (roles include the ones before them). */
export const can = (user, role) => !!user && (ROLE_RANK[user.role] ?? -1) >= ROLE_RANK[role];

/** The incident type catalog from GET /incident-types. */
export const catalog = { types: [], byCode: new Map() };
export function setCatalog(types) {
  catalog.types = types;
  catalog.byCode = new Map(types.map((t) => [t.code, t]));
}
export function typeLabel(code) {
  const type = catalog.byCode.get(code);
  if (!type) return code || '';
  return (lang() === 'en' ? type.label_en : type.label_vi) || code;
}

/** The agency whose colour an incident wears: the first involved, else the type's family. */
export function leadAgency(inc) {
  if (inc.agencies && inc.agencies.length) return inc.agencies[0];
  const type = catalog.byCode.get(inc.type_code);
  if (type && type.agencies && type.agencies.length) return type.agencies[0];
  return 'COMMAND_CENTER';
}

/** Milliseconds of an incident's timer origins, parsed once per version of the item. */
export function times(inc) {
  if (!inc._t) inc._t = { call: ms(inc.create_time), dispatch: ms(inc.first_dispatch_time), scene: ms(inc.first_on_scene_time) };
  return inc._t;
}

/** Queue order: priority first (P1 before P4), then the oldest call, then id. */
export function compareIncidents(a, b) {
  return a.priority - b.priority || times(a).call - times(b).call || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The common operating picture as the gateway streams it. */
export class Picture {
  constructor() {
    this.incidents = new Map();
    this.units = new Map();
    this.hospitals = new Map();
    this.cursor = 0;
  }

  replace(p) {
    if (p.server_time) setServerTime(p.server_time);
    this.cursor = p.cursor;
    this.incidents = new Map(p.incidents.filter((i) => OPEN_STATES.has(i.state)).map((i) => [i.id, i]));
    this.units = new Map(p.units.map((u) => [u.id, u]));
    this.hospitals = new Map((p.hospitals || []).map((x) => [x.id, x]));
  }

  collection(kind) {
    return kind === 'incident' ? this.incidents : kind === 'unit' ? this.units : this.hospitals;
  }
}
