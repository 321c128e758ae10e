// The dispatcher's screen: session, the live picture (one EventSource), and the wiring of the
// map, the incident queue, the unit board, call taking, the incident detail, search, the
// alerts (attention.js), the keyboard (keys.js) and public warnings (warnings.js, supervisors).
//
// The stream's snapshot and changes are applied by live.js.
import { api, setUnauthenticatedHandler } from './api.js';
import { AlertCenter } from './attention.js';
import { UnitBoard } from './board.js';
import { CallForm } from './calltake.js';
import { IncidentDetail } from './detail.js';
import { $, h } from './dom.js';
import { startEdit, stopEdit } from './edit.js';
import { fieldWords } from './forms.js';
import { applyStatic, has, label, lang, onLangChange, setLang, t } from './i18n.js';
import { Keyboard } from './keys.js';
import { KpiPanel } from './kpis.js';
import { LivePicture } from './live.js';
import { CityMap, positionNote } from './map.js';
import { Picture, STATUS_COLOUR, UNIT_STATUSES, can, setCatalog, typeLabel } from './model.js';
import { IncidentQueue } from './queue.js';
import { setStations, stationName } from './reasons.js';
import { SearchPanel } from './search.js';
import { clockTime, shortId } from './text.js';
import { WarningsPanel } from './warnings.js';

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
  const extra = unplaced.map((f) => (f.field ? `${f.field}: ${fieldWords(f)}` : fieldWords(f)));
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

const live = new LivePicture(state, stats, { ui: () => ui, renderCounts, setConn, showLogin: () => showLogin() });
const connect = () => live.connect();
const disconnect = () => live.disconnect();

// --- session ----------------------------------------------------------------------------------

/** Asks for the reference data (incident types, the city's outline, stations); null once
 * it is loaded. */
function askReference() {
  if (state.referenceLoaded) return null;
  return Promise.allSettled([api('/incident-types'), api('/map'), api('/stations')]);
}

/** Applies the reference data `asked` for (askReference). */
async function loadReference(asked) {
  if (!asked) return;
  const [types, outline, stations] = await asked;
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
  // Asked for first: the answers come while the screen's parts are built.
  const reference = askReference();
  renderUser();
  $('#login-view').hidden = true;
  $('#app-view').hidden = false;
  if (!ui) ui = buildUi();
  ui.alerts.setUser(user);
  ui.map.invalidate();
  await loadReference(reference);
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
