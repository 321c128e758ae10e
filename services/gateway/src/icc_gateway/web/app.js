// The dispatcher's screen: session, the live picture (one EventSource), and the wiring of the
// map, the incident queue, the unit board, call taking, the incident detail, search, the
// alerts (attention.js), the keyboard (keys.js) and public warnings (warnings.js, supervisors).
//
// Changes from the stream are applied in batches, once per animation frame (or after 200 ms
// when the tab is hidden), each marker and row updated in place. Performance marks for the
// benchmark (bench/screen.py): `icc:rendered` after the first snapshot is on screen, and one
// `icc:apply` measure per batch of changes; counters in window.__icc.stats.
import { api, setUnauthenticatedHandler } from './api.js';
import { AlertCenter } from './attention.js';
import { UnitBoard } from './board.js';
import { CallForm } from './calltake.js';
import { IncidentDetail } from './detail.js';
import { $, h } from './dom.js';
import { startEdit, stopEdit } from './edit.js';
import { applyStatic, has, label, lang, onLangChange, setLang, t } from './i18n.js';
import { Keyboard } from './keys.js';
import { KpiPanel } from './kpis.js';
import { CityMap, positionNote } from './map.js';
import { OPEN_STATES, Picture, STATUS_COLOUR, UNIT_STATUSES, can, setCatalog, typeLabel } from './model.js';
import { IncidentQueue } from './queue.js';
import { setStations, stationName } from './reasons.js';
import { SearchPanel } from './search.js';
import { clockTime, shortId } from './text.js';
import { WarningsPanel } from './warnings.js';

const STREAM_URL = '/api/v1/picture/stream';

const state = {
  user: null,
  picture: new Picture(),
  stream: null,
  conn: 'connecting',
  reconnectDelay: 1000,
  reconnectTimer: null,
  referenceLoaded: false,
};
const stats = { snapshots: 0, received: 0, applied: 0, batches: 0, applyMs: 0, firstRender: null };
let ui = null;

// --- banner ---------------------------------------------------------------------------------

let bannerTimer = null;

/** The screen's sentence for an API error: its translation by code, else the API's message. */
function errorText(err) {
  if (err && err.code && has(`error.${err.code}`)) return t(`error.${err.code}`);
  return (err && err.message) || t('error.unknown');
}

function banner(kind, text, detail = '') {
  const el = $('#banner');
  el.className = `banner ${kind}`;
  $('#banner-text').textContent = text;
  $('#banner-detail').textContent = detail;
  el.hidden = false;
  clearTimeout(bannerTimer);
  if (kind === 'info') bannerTimer = setTimeout(() => (el.hidden = true), 6000);
}

/** An error in the banner: translated, with the API's own message and unplaced field errors. */
function showError(err, unplaced = []) {
  if (err && err.name === 'AbortError') return;
  const extra = unplaced.map((f) => (f.field ? `${f.field}: ${f.description}` : f.description));
  // The API's own message is English: shown in English, or when the screen translated it.
  const said = err && (err.translated || lang() === 'en') && err.message !== errorText(err) ? err.message : '';
  const detail = [said, ...extra].filter(Boolean).join(' · ');
  banner('error', errorText(err), detail);
}

const info = (text) => banner('info', text);

// --- header -----------------------------------------------------------------------------------

function setConn(conn) {
  state.conn = conn;
  const el = $('#conn');
  el.dataset.state = conn;
  el.textContent = t(`conn.${conn}`);
}

function renderUser() {
  const u = state.user;
  const el = $('#user');
  el.hidden = !u;
  $('#logout').hidden = !u;
  $('#conn').hidden = !u;
  $('#counts').hidden = !u;
  $('#new-call').hidden = !can(u, 'call_taker');
  for (const id of ['#search-open', '#sound', '#help-open']) $(id).hidden = !u;
  $('#warnings-open').hidden = !can(u, 'supervisor');
  if (u) el.replaceChildren(h('strong', null, u.display_name || u.username), ' ', h('span', { class: 'role' }, label('role', u.role)));
}

function renderCounts() {
  const p = state.picture;
  let available = 0;
  for (const u of p.units.values()) if (u.status === 'AVAILABLE') available++;
  $('#counts').textContent = t('counts.summary', { open: p.incidents.size, available, units: p.units.size });
  $('#queue-count').textContent = `(${p.incidents.size})`;
  $('#queue-empty').hidden = p.incidents.size > 0;
}

// --- views ------------------------------------------------------------------------------------

function layout() {
  const side = !ui.call.panel.hidden || !$('#detail-panel').hidden || ui.search.visible || ui.warnings.visible;
  $('#side').hidden = !side;
  $('#pick-hint').hidden = ui.call.panel.hidden;
  ui.map.invalidate();
}

// The detail was opened from the search's results: closing it shows them again.
let backToSearch = false;

/** Opens an incident's detail; `known`: the incident as a search found it (a closed one is
 * not in the picture). */
function openIncident(id, known = null) {
  if (ui.call.visible) ui.call.hide();
  if (ui.warnings.visible) ui.warnings.hide();
  backToSearch = ui.search.visible;
  ui.search.hide();
  ui.queue.select(id);
  ui.map.select(id);
  const inc = state.picture.incidents.get(id) || known;
  if (inc && inc.lat != null) ui.map.focus(inc.lat, inc.lon);
  ui.detail.open(id);
  layout();
}

function closeDialogs() {
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
}

function openCallForm() {
  if (!can(state.user, 'call_taker')) return;
  closeDialogs();
  if (ui.detail.visible) ui.detail.hide();
  ui.search.hide();
  if (ui.warnings.visible) ui.warnings.hide();
  ui.call.show();
  layout();
  // Only now is the panel shown: a hidden field cannot take the focus, and the first word a
  // call-taker types must land in the type search, not on the button.
  $('#cf-type').focus();
}

function openSearch() {
  closeDialogs();
  if (ui.call.visible) ui.call.hide();
  if (ui.detail.visible) ui.detail.hide();
  if (ui.warnings.visible) ui.warnings.hide();
  ui.search.show();
  layout();
  ui.search.focus();
}

function openWarnings() {
  if (!can(state.user, 'supervisor')) return;
  closeDialogs();
  if (ui.call.visible) ui.call.hide();
  if (ui.detail.visible) ui.detail.hide();
  ui.search.hide();
  ui.warnings.show();
  layout();
  ui.warnings.focus();
}

/** Esc: closes the topmost panel (public warnings, the search, the call form, a correction,
 * the detail). */
function closeTop() {
  if (ui.warnings.visible) {
    ui.warnings.hide();
  } else if (ui.search.visible) {
    ui.search.hide();
  } else if (ui.call.visible) {
    ui.call.hide();
  } else if (ui.detail.visible && ui.detail.editing) {
    stopEdit(ui.detail);
    return true;
  } else if (ui.detail.visible) {
    ui.detail.hide();
    return true;
  } else {
    return false;
  }
  layout();
  return true;
}

/** The incident the keyboard's commands act on: the one open, else the one selected. */
function currentIncident() {
  if (ui.detail.visible) return ui.detail.id;
  return ui.queue.selected || null;
}

/** The content of a unit's popup on the map (dispatchers can change its status there). */
function unitPopup(u, el) {
  el.append(
    h('h3', null, u.call_sign || shortId(u.id)),
    h('p', null, `${label('agency', u.agency)} · ${label('kind', u.kind)}`),
    h('p', null, h('span', { class: 'dot', style: { background: STATUS_COLOUR[u.status] || '#94a3b8' }, 'aria-hidden': 'true' }), label('status', u.status)),
    u.station ? h('p', { class: 'muted' }, `${t('unit.station')}: ${stationName(u.station)}`) : null,
    u.update_time ? h('p', { class: 'muted' }, `${t('unit.updated')}: ${clockTime(u.update_time)}`) : null,
    positionNote(u) ? h('p', { class: 'muted position-note' }, positionNote(u)) : null,
  );
  if (u.incident) {
    el.append(h('button', { type: 'button', class: 'small', onclick: () => openIncident(u.incident) }, `${t('detail.open_incident')} ${shortId(u.incident)}`));
  }
  if (can(state.user, 'dispatcher')) {
    const select = h(
      'select',
      { 'aria-label': t('detail.unit_status') },
      UNIT_STATUSES.map((s) => h('option', { value: s, selected: s === u.status }, label('status', s))),
    );
    const button = h('button', { type: 'button', class: 'small primary' }, t('detail.set_status'));
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await api(`/units/${u.id}/status`, { method: 'POST', body: { status: select.value } });
        info(t('detail.status_changed'));
      } catch (err) {
        showError(err);
      } finally {
        button.disabled = false;
      }
    });
    el.append(h('div', { class: 'status-set' }, select, button));
  }
}

function buildUi() {
  const map = new CityMap($('#map'), {
    onIncident: (id) => openIncident(id),
    onUnitPopup: unitPopup,
    // A click on the map places what the open panel is placing: a call, or a warning's area.
    onPick: (lat, lon) => (ui.warnings.visible ? ui.warnings.pick(lat, lon) : ui.call.pick(lat, lon)),
  });
  map.legend();
  const queue = new IncidentQueue($('#queue'), $('#queue-scroll'), { onOpen: openIncident, onCount: renderCounts });
  const board = new UnitBoard($('#board'), {
    onUnit: (id) => {
      const u = state.picture.units.get(id);
      if (u) map.focus(u.lat, u.lon);
      map.openUnit(id);
    },
  });
  const call = new CallForm($('#call-panel'), {
    map,
    picture: state.picture,
    user: () => state.user,
    info,
    showError,
    errorText,
    onCreated: (incident) => {
      // The call-taker knows of their own new P1: no alert for it on their screen.
      alerts.acknowledgeIncident(incident.id);
      call.hide();
      openIncident(incident.id);
    },
  });
  const detail = new IncidentDetail($('#detail-panel'), {
    user: () => state.user,
    picture: state.picture,
    map,
    info,
    showError,
    errorText,
    onHide: () => {
      queue.select(null);
      map.select(null);
      const back = backToSearch;
      backToSearch = false;
      if (back) search.show();
      layout();
      if (back) search.focus();
    },
  });
  const search = new SearchPanel($('#search-panel'), {
    showError,
    onOpen: (inc) => openIncident(inc.id, inc),
    onClose: () => {
      search.hide();
      layout();
    },
  });
  const alerts = new AlertCenter($('#alerts'), $('#sound'), {
    picture: state.picture,
    onOpen: (id) => openIncident(id),
  });
  const keys = new Keyboard({
    user: () => state.user,
    picture: state.picture,
    typeLabel,
    newCall: openCallForm,
    search: openSearch,
    closeTop,
    ackAlert: () => {
      const first = alerts.first();
      if (first) alerts.acknowledge(first.key);
    },
    edit: () => ui.detail.visible && startEdit(ui.detail),
    focusQueue: () => ui.queue.focus(),
    incidentId: currentIncident,
    openIncident: (id) => openIncident(id),
    changed: (id) => {
      if (ui.detail.visible && ui.detail.id === id) ui.detail.refresh();
    },
    info,
    errorText,
  });
  const warnings = new WarningsPanel($('#warnings-panel'), {
    map,
    info,
    showError,
    onClose: () => {
      warnings.hide();
      layout();
    },
  });
  const kpis = new KpiPanel($('#kpis'), $('#kpi-body'), { onIncident: (id) => openIncident(id) });
  $('#call-close').addEventListener('click', () => {
    call.hide();
    layout();
  });
  $('#new-call').addEventListener('click', openCallForm);
  $('#search-open').addEventListener('click', openSearch);
  $('#warnings-open').addEventListener('click', openWarnings);
  $('#help-open').addEventListener('click', () => keys.openHelp());
  return { map, queue, board, call, detail, kpis, search, alerts, keys, warnings };
}

// --- the live picture -------------------------------------------------------------------------

const pending = new Map();
let pendingEvents = 0;
let flushScheduled = false;

function onSnapshot(p) {
  performance.mark('icc:snapshot:received');
  pending.clear();
  pendingEvents = 0;
  state.picture.replace(p);
  ui.alerts.snapshot(state.picture.incidents);
  ui.map.reset(state.picture);
  ui.queue.reset(state.picture.incidents);
  ui.board.render(state.picture.units);
  renderCounts();
  ui.detail.notify();
  ui.kpis.soon();
  stats.snapshots++;
  performance.mark('icc:snapshot:applied');
  // After the frame that draws it (Leaflet's canvas redraws in the same animation frame).
  requestAnimationFrame(() =>
    setTimeout(() => {
      performance.mark('icc:rendered');
      performance.measure('icc:snapshot', 'icc:snapshot:received', 'icc:rendered');
      if (stats.firstRender == null) stats.firstRender = performance.now();
    }, 0),
  );
}

function onChange(change) {
  const item = change.item || {};
  pending.set(`${change.kind}:${item.id}`, change);
  pendingEvents++;
  stats.received++;
  if (!flushScheduled) {
    flushScheduled = true;
    requestAnimationFrame(flush);
    setTimeout(flush, 200); // a hidden tab gets no animation frames
  }
}

/** Where a change of each kind is shown besides the model: [upsert(item), remove(id)]. */
const SHOWN = {
  incident: [(x) => (ui.map.upsertIncident(x), ui.queue.upsert(x)), (id) => (ui.map.removeIncident(id), ui.queue.remove(id))],
  unit: [(x) => ui.map.upsertUnit(x), (id) => ui.map.removeUnit(id)],
  hospital: [(x) => ui.map.upsertHospital(x), (id) => ui.map.removeHospital(id)],
};

/** Applies every change received since the last batch: the model, then markers and rows. */
function flush() {
  if (!flushScheduled) return;
  flushScheduled = false;
  const start = performance.now();
  const { picture } = state;
  const detailId = ui.detail.visible ? ui.detail.id : null;
  let unitsChanged = false;
  let detailTouched = false;
  // Created, first dispatched, first on scene, re-prioritised or closed: the KPIs move.
  let notable = false;
  for (const { kind, op, item } of pending.values()) {
    if (!SHOWN[kind]) continue;
    const id = item.id;
    const items = picture.collection(kind);
    const prev = items.get(id);
    if (kind === 'incident') {
      notable =
        notable ||
        !prev ||
        op === 'remove' ||
        prev.first_dispatch_time !== item.first_dispatch_time ||
        prev.first_on_scene_time !== item.first_on_scene_time ||
        prev.priority !== item.priority;
      if (id === detailId) detailTouched = true;
      if (op === 'remove') ui.alerts.drop(id);
      else ui.alerts.change(prev, item);
    } else if (kind === 'unit') {
      unitsChanged = true;
      if (detailId && (item.incident === detailId || (prev && prev.incident === detailId))) detailTouched = true;
    }
    const [upsert, remove] = SHOWN[kind];
    // An incident no longer open leaves the screen as a removed one does.
    if (op === 'remove' || (kind === 'incident' && !OPEN_STATES.has(item.state))) {
      items.delete(id);
      remove(id);
    } else {
      items.set(id, item);
      upsert(item);
    }
  }
  const events = pendingEvents;
  pending.clear();
  pendingEvents = 0;
  ui.queue.commit();
  if (unitsChanged) ui.board.schedule(picture.units);
  renderCounts();
  if (detailTouched) ui.detail.notify();
  if (notable) ui.kpis.soon();
  ui.alerts.flush();
  stats.applied += events;
  stats.batches++;
  const end = performance.now();
  stats.applyMs += end - start;
  performance.measure('icc:apply', { start, end, detail: { events } });
  // A shift is long: the performance timeline stays bounded.
  if (stats.batches % 1000 === 0) performance.clearMeasures('icc:apply');
}

function connect() {
  disconnect();
  setConn('connecting');
  const es = new EventSource(STREAM_URL);
  state.stream = es;
  es.addEventListener('snapshot', (e) => onSnapshot(JSON.parse(e.data)));
  es.addEventListener('change', (e) => onChange(JSON.parse(e.data)));
  es.addEventListener('open', () => {
    state.reconnectDelay = 1000;
    setConn('live');
  });
  es.addEventListener('error', () => {
    if (es !== state.stream) return;
    if (es.readyState === EventSource.CONNECTING) {
      // The browser reconnects by itself, sending Last-Event-ID: nothing missed, nothing twice.
      setConn('reconnecting');
      return;
    }
    // The browser gave up (an HTTP error, e.g. the session ended): check, then start over.
    setConn('offline');
    es.close();
    clearTimeout(state.reconnectTimer);
    const delay = state.reconnectDelay;
    state.reconnectDelay = Math.min(delay * 2, 15000); // back to 1 s once a stream opens
    state.reconnectTimer = setTimeout(async () => {
      try {
        await api('/session');
      } catch (err) {
        if (err.status === 401) {
          showLogin();
          return;
        }
      }
      if (state.user) connect();
    }, delay);
  });
}

function disconnect() {
  clearTimeout(state.reconnectTimer);
  if (state.stream) {
    state.stream.close();
    state.stream = null;
  }
}

// --- session ----------------------------------------------------------------------------------

async function loadReference() {
  if (state.referenceLoaded) return;
  const [types, outline, stations] = await Promise.allSettled([api('/incident-types'), api('/map'), api('/stations')]);
  if (types.status === 'fulfilled') {
    setCatalog(types.value.types || []);
    ui.call.setTypes(types.value.types || []);
  }
  if (outline.status === 'fulfilled') ui.map.setOutline(outline.value);
  if (stations.status === 'fulfilled') {
    ui.map.setStations(stations.value.stations || []);
    setStations(stations.value.stations || []);
  }
  const failed = [types, outline, stations].find((r) => r.status === 'rejected');
  if (failed) showError(failed.reason);
  state.referenceLoaded = !failed;
}

async function start(user) {
  state.user = user;
  renderUser();
  $('#login-view').hidden = true;
  $('#app-view').hidden = false;
  if (!ui) ui = buildUi();
  ui.alerts.setUser(user);
  ui.map.invalidate();
  await loadReference();
  connect();
  ui.kpis.start();
}

function showLogin() {
  disconnect();
  state.user = null;
  renderUser();
  if (ui) {
    ui.call.hide();
    ui.search.hide();
    ui.warnings.hide();
    ui.alerts.setUser(null);
    closeDialogs();
    ui.kpis.stop();
    if (ui.detail.visible) ui.detail.hide();
  }
  $('#app-view').hidden = true;
  $('#login-view').hidden = false;
  $('#login-username').focus();
}

/** Too many failed sign-ins: when to try again, in the screen's language. */
function throttled(seconds) {
  const s = Math.max(1, seconds ?? 60);
  const wait = s < 120 ? t('login.wait_s', { n: s }) : t('login.wait_min', { n: Math.ceil(s / 60) });
  return t('login.throttled', { wait });
}

async function login(e) {
  e.preventDefault();
  const button = $('#login-submit');
  const error = $('#login-error');
  error.textContent = '';
  button.disabled = true;
  button.textContent = t('login.busy');
  try {
    const reply = await api('/session', { method: 'POST', body: { username: $('#login-username').value.trim(), password: $('#login-password').value } });
    $('#login-password').value = '';
    $('#banner').hidden = true;
    await start(reply.user);
  } catch (err) {
    error.textContent = err.status === 429 ? throttled(err.retryAfter) : errorText(err);
  } finally {
    button.disabled = false;
    button.textContent = t('login.submit');
  }
}

async function logout() {
  try {
    await api('/session', { method: 'DELETE' });
  } catch (err) {
    showError(err);
  }
  showLogin();
}

// --- language and clock ---------------------------------------------------------------------

function relabel() {
  document.title = `ICC · ${t('app.title')}`;
  setConn(state.conn);
  renderUser();
  if (!ui) return;
  renderCounts();
  ui.queue.relabel();
  ui.board.relabel();
  ui.call.relabel();
  ui.detail.relabel();
  ui.kpis.relabel();
  ui.search.relabel();
  ui.warnings.relabel();
  ui.alerts.relabel();
  ui.map.legend();
}

function startClock() {
  // On the second, so every timer on screen turns together; one loop for the whole screen.
  setTimeout(() => {
    const tick = () => {
      if (!ui) return;
      const now = Date.now();
      ui.queue.tick(now);
      ui.detail.tick(now);
      ui.alerts.tick(now, state.picture.incidents);
    };
    tick();
    setInterval(tick, 1000);
  }, 1000 - (Date.now() % 1000));
}

async function main() {
  document.documentElement.lang = lang();
  applyStatic(document);
  document.title = `ICC · ${t('app.title')}`;
  onLangChange(relabel);
  setUnauthenticatedHandler(showLogin);
  $('#lang').addEventListener('click', () => setLang(lang() === 'vi' ? 'en' : 'vi'));
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', logout);
  $('#banner-close').addEventListener('click', () => ($('#banner').hidden = true));
  startClock();
  window.__icc = { state, stats, get ui() { return ui; } };
  try {
    const reply = await api('/session');
    await start(reply.user);
  } catch (err) {
    if (err.status !== 401) showError(err);
    showLogin();
  }
}

main();
