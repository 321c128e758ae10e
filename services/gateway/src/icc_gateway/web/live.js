// The live picture: one EventSource on the gateway's picture stream, its snapshot shown
// whole, its changes applied in batches, once per animation frame (or after 200 ms when the
// tab is hidden), each marker and row updated in place. Reconnects as the browser allows,
// and after the browser gave up, with a back-off (a session that ended signs out).
//
// Performance marks for the benchmark (bench/screen.py): `icc:rendered` after the first
// snapshot is on screen, and one `icc:apply` measure per batch of changes; counters in
// `stats` (window.__icc.stats).
import { api } from './api.js';
import { OPEN_STATES } from './model.js';

const STREAM_URL = '/api/v1/picture/stream';

export class LivePicture {
  /** state: the screen's {user, picture, stream, reconnectDelay, reconnectTimer}; stats: the
   * counters; ctx: {ui() (the screen's parts, once built), renderCounts(), setConn(conn),
   * showLogin()} */
  constructor(state, stats, ctx) {
    this.state = state;
    this.stats = stats;
    this.ctx = ctx;
    this.pending = new Map();
    this.pendingEvents = 0;
    this.flushScheduled = false;
    this.flushNow = () => this.flush();
    // Where a change of each kind is shown besides the model: [upsert(item), remove(id)].
    this.shown = {
      incident: [(x) => (this.ui.map.upsertIncident(x), this.ui.queue.upsert(x)), (id) => (this.ui.map.removeIncident(id), this.ui.queue.remove(id))],
      unit: [(x) => this.ui.map.upsertUnit(x), (id) => this.ui.map.removeUnit(id)],
      hospital: [(x) => this.ui.map.upsertHospital(x), (id) => this.ui.map.removeHospital(id)],
    };
  }

  get ui() {
    return this.ctx.ui();
  }

  renderCounts() {
    this.ctx.renderCounts();
  }

  setConn(conn) {
    this.ctx.setConn(conn);
  }

  showLogin() {
    this.ctx.showLogin();
  }

  onSnapshot(p) {
    performance.mark('icc:snapshot:received');
    this.pending.clear();
    this.pendingEvents = 0;
    this.state.picture.replace(p);
    this.ui.alerts.snapshot(this.state.picture.incidents);
    this.ui.map.reset(this.state.picture);
    this.ui.queue.reset(this.state.picture.incidents);
    this.ui.board.render(this.state.picture.units);
    this.renderCounts();
    this.ui.detail.notify();
    this.ui.kpis.soon();
    this.stats.snapshots++;
    performance.mark('icc:snapshot:applied');
    // After the frame that draws it (Leaflet's canvas redraws in the same animation frame).
    requestAnimationFrame(() =>
      setTimeout(() => {
        performance.mark('icc:rendered');
        performance.measure('icc:snapshot', 'icc:snapshot:received', 'icc:rendered');
        if (this.stats.firstRender == null) this.stats.firstRender = performance.now();
      }, 0),
    );
  }

  onChange(change) {
    const item = change.item || {};
    this.pending.set(`${change.kind}:${item.id}`, change);
    this.pendingEvents++;
    this.stats.received++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      requestAnimationFrame(this.flushNow);
      setTimeout(this.flushNow, 200); // a hidden tab gets no animation frames
    }
  }

  /** Applies every change received since the last batch: the model, then markers and rows. */
  flush() {
    if (!this.flushScheduled) return;
    this.flushScheduled = false;
    const start = performance.now();
    const { picture } = this.state;
    const detailId = this.ui.detail.visible ? this.ui.detail.id : null;
    let unitsChanged = false;
    let detailTouched = false;
    // Created, first dispatched, first on scene, re-prioritised or closed: the KPIs move.
    let notable = false;
    for (const { kind, op, item } of this.pending.values()) {
      if (!this.shown[kind]) continue;
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
        if (op === 'remove') this.ui.alerts.drop(id);
        else this.ui.alerts.change(prev, item);
      } else if (kind === 'unit') {
        unitsChanged = true;
        if (detailId && (item.incident === detailId || (prev && prev.incident === detailId))) detailTouched = true;
      }
      const [upsert, remove] = this.shown[kind];
      // An incident no longer open leaves the screen as a removed one does.
      if (op === 'remove' || (kind === 'incident' && !OPEN_STATES.has(item.state))) {
        items.delete(id);
        remove(id);
      } else {
        items.set(id, item);
        upsert(item);
      }
    }
    const events = this.pendingEvents;
    this.pending.clear();
    this.pendingEvents = 0;
    this.ui.queue.commit();
    if (unitsChanged) this.ui.board.schedule(picture.units);
    this.renderCounts();
    if (detailTouched) this.ui.detail.notify();
    if (notable) this.ui.kpis.soon();
    this.ui.alerts.flush();
    this.stats.applied += events;
    this.stats.batches++;
    const end = performance.now();
    this.stats.applyMs += end - start;
    performance.measure('icc:apply', { start, end, detail: { events } });
    // A shift is long: the performance timeline stays bounded.
    if (this.stats.batches % 1000 === 0) performance.clearMeasures('icc:apply');
  }

  connect() {
    this.disconnect();
    this.setConn('connecting');
    const es = new EventSource(STREAM_URL);
    this.state.stream = es;
    es.addEventListener('snapshot', (e) => this.onSnapshot(JSON.parse(e.data)));
    es.addEventListener('change', (e) => this.onChange(JSON.parse(e.data)));
    es.addEventListener('open', () => {
      this.state.reconnectDelay = 1000;
      this.setConn('live');
    });
    es.addEventListener('error', () => {
      if (es !== this.state.stream) return;
      if (es.readyState === EventSource.CONNECTING) {
        // The browser reconnects by itself, sending Last-Event-ID: nothing missed, nothing twice.
        this.setConn('reconnecting');
        return;
      }
      // The browser gave up (an HTTP error, e.g. the session ended): check, then start over.
      this.setConn('offline');
      es.close();
      clearTimeout(this.state.reconnectTimer);
      const delay = this.state.reconnectDelay;
      this.state.reconnectDelay = Math.min(delay * 2, 15000); // back to 1 s once a stream opens
      this.state.reconnectTimer = setTimeout(async () => {
        try {
          await api('/session');
        } catch (err) {
          if (err.status === 401) {
            this.showLogin();
            return;
          }
        }
        if (this.state.user) this.connect();
      }, delay);
    });
  }

  disconnect() {
    clearTimeout(this.state.reconnectTimer);
    if (this.state.stream) {
      this.state.stream.close();
      this.state.stream = null;
    }
  }
}
