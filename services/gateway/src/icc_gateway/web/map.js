// The city map: Leaflet with no tile server, one canvas for every shape, markers updated in place.
// Leaflet (global `L`) is loaded by index.html from /vendor/leaflet/.
import { h } from './dom.js';
import { label, lang, t } from './i18n.js';
import { AGENCY_COLOUR, STALE_AFTER_S, STATUS_COLOUR, leadAgency, positionState, toServer, typeLabel, welfare } from './model.js';
import { durationWords } from './reasons.js';
import { duration } from './text.js';

const L = window.L;

const RADIUS = { 1: 11, 2: 8.5, 3: 7, 4: 5.5 };
const CITY_STYLE = { color: '#64748b', weight: 1.5, fillColor: '#1e293b', fillOpacity: 1, interactive: false };
const RIVER_STYLE = { color: '#38bdf8', weight: 3, opacity: 0.8, fillColor: '#0c4a6e', fillOpacity: 0.8, interactive: false };
// Where the map opens: the urban core (the former inner districts, Thủ Đức to Bình Tân),
// where most calls come from; the whole city (to Cần Giờ, Bình Dương's and Bà Rịa's
// former lands and Côn Đảo) stays one zoom-out away.
const URBAN_CORE = [
  [10.735, 106.615],
  [10.835, 106.765],
];

// A circle marker with its priority number drawn inside, on the same canvas (no DOM per marker).
const LabelledCircle = L.CircleMarker.extend({
  _updatePath() {
    L.CircleMarker.prototype._updatePath.call(this);
    const r = this._renderer;
    const text = this.options.label;
    if (!text || !r._drawing || !r._ctx || this._empty() || this._radius < 6) return;
    const ctx = r._ctx;
    ctx.save();
    ctx.font = `700 ${Math.round(this._radius * 1.15)}px system-ui, sans-serif`;
    ctx.fillStyle = this.options.labelColour || '#fff';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, this._point.x, this._point.y + 0.5);
    ctx.restore();
  },
});

/** A tooltip's or popup's content: an element holding `text` as text. Leaflet inserts a
 * string as HTML, so content is never a string (and the page's Trusted Types policy
 * refuses one). */
const asText = (text) => h('span', null, text);

/** What is wrong with a unit's position, in words ('' when it is fresh). */
export function positionNote(u, now = Date.now()) {
  const where = positionState(u, now);
  if (where === 'never') return t('unit.never_reported');
  if (where === 'stale') return t('unit.stale', { d: durationWords((toServer(now) - Date.parse(u.position_time)) / 1000) });
  return '';
}

/** What an incident marker looks like, as one string (equal strings: nothing to redraw). */
const styleKey = (s) => `${s.radius}|${s.fillColor}|${s.fillOpacity}|${s.color}|${s.weight}|${s.opacity}|${s.dashArray}|${s.label}`;

/** Takes a marker off the map and out of `markers`; false when there was none. */
function drop(markers, id) {
  const m = markers.get(id);
  if (!m) return false;
  m.remove();
  markers.delete(id);
  return true;
}

export class CityMap {
  /** @param el the map's container; onIncident(id) on a click, onUnitPopup(unit, el) fills a
   * unit's popup, onPick(lat, lon) when a location is chosen for a new call. */
  constructor(el, { onIncident, onUnitPopup, onPick }) {
    this.onIncident = onIncident;
    this.onUnitPopup = onUnitPopup;
    this.onPick = onPick;
    this.renderer = L.canvas({ padding: 0.3, tolerance: 4 });
    this.map = L.map(el, {
      preferCanvas: true,
      renderer: this.renderer,
      attributionControl: false,
      // Added below with titles in the screen's language (Leaflet's own are English).
      zoomControl: false,
      zoomSnap: 0.25,
      minZoom: 8,
      maxZoom: 18,
      center: [10.78, 106.70],
      zoom: 11,
    });
    // The city and the river under every marker, in their own pane (SVG, never clicked):
    // the markers' one canvas then holds only what can be clicked.
    this.map.createPane('outline').style.zIndex = '350';
    this.map.getPane('outline').style.pointerEvents = 'none';
    this.outlineRenderer = L.svg({ pane: 'outline', padding: 0.5 });
    this.incidents = new Map();
    this.units = new Map();
    this.hospitals = new Map();
    this.stations = new Map();
    this.selected = null;
    this.picking = false;
    this.pickMarker = null;
    this.popupUnit = null;
    this.map.on('click', (e) => {
      if (this.picking) this.onPick(e.latlng.lat, e.latlng.lng);
    });
    this.map.on('popupclose', () => {
      this.popupUnit = null;
    });
    this.zoom = L.control.zoom({ zoomInTitle: t('map.zoom_in'), zoomOutTitle: t('map.zoom_out') }).addTo(this.map);
    // Positions go stale with time alone, with no change to say so: looked at every 5 s.
    this.staleTimer = setInterval(() => this.restyleUnits(Date.now()), 5000);
  }

  /** The zoom buttons' titles in the screen's language. */
  relabelZoom() {
    for (const [el, key] of [
      [this.zoom._zoomInButton, 'map.zoom_in'],
      [this.zoom._zoomOutButton, 'map.zoom_out'],
    ]) {
      el.title = t(key);
      el.setAttribute('aria-label', t(key));
    }
  }

  /** A marker clicked: while a call's place is being picked, the click places the call
   * there (it never opens another incident or unit, which would leave the call form). */
  clicked(e, open) {
    if (this.picking) this.onPick(e.latlng.lat, e.latlng.lng);
    else open();
  }

  /** The city outline and the river (GeoJSON from GET /map); the view on the urban core. */
  setOutline(fc) {
    if (this.outline) this.outline.remove();
    const layer = L.geoJSON(fc, {
      renderer: this.outlineRenderer,
      pane: 'outline',
      style: (f) => ((f.properties || {}).kind === 'river' ? RIVER_STYLE : CITY_STYLE),
      interactive: false,
    }).addTo(this.map);
    this.outline = layer;
    const city = fc.features.filter((f) => (f.properties || {}).kind !== 'river');
    const bounds = (city.length ? L.geoJSON({ type: 'FeatureCollection', features: city }) : layer).getBounds();
    if (bounds.isValid()) {
      // Not animated: a view set while a zoom animation runs is ignored by Leaflet.
      this.map.fitBounds(URBAN_CORE, { animate: false });
      this.map.setMaxBounds(bounds.pad(0.5));
    }
  }

  invalidate() {
    this.map.invalidateSize();
  }

  // --- incidents --------------------------------------------------------------------------

  incidentStyle(inc) {
    const selected = inc.id === this.selected;
    const multi = (inc.agencies || []).length > 1;
    return {
      radius: (RADIUS[inc.priority] || 6) + (selected ? 2 : 0),
      fillColor: AGENCY_COLOUR[leadAgency(inc)] || '#94a3b8',
      fillOpacity: 0.92,
      color: selected ? '#facc15' : multi ? '#0f172a' : '#f8fafc',
      weight: selected ? 4 : multi ? 3.5 : 1.5,
      opacity: 1,
      dashArray: inc.exercise ? '3 3' : null,
      label: String(inc.priority),
    };
  }

  upsertIncident(inc) {
    const m = this.incidents.get(inc.id);
    if (inc.lat == null || inc.lon == null) {
      if (m) this.removeIncident(inc.id);
      return;
    }
    if (m) {
      m._icc = inc;
      const ll = m.getLatLng();
      if (ll.lat !== inc.lat || ll.lng !== inc.lon) m.setLatLng([inc.lat, inc.lon]);
      const style = this.incidentStyle(inc);
      // Restyled (and so redrawn) only when its look changed: most changes in a burst
      // (a state, an assignment) leave the marker as it is.
      const look = styleKey(style);
      if (m._look !== look) {
        m._look = look;
        if (m.options.radius !== style.radius) m.setRadius(style.radius);
        m.setStyle(style);
      }
      return;
    }
    const style = this.incidentStyle(inc);
    const marker = new LabelledCircle([inc.lat, inc.lon], { ...style, renderer: this.renderer, bubblingMouseEvents: false });
    marker._icc = inc;
    marker._look = styleKey(style);
    marker.on('click', (e) => this.clicked(e, () => this.onIncident(marker._icc.id)));
    marker.bindTooltip(() => asText(this.incidentTip(marker._icc)), { direction: 'top', offset: [0, -6] });
    marker.addTo(this.map);
    this.incidents.set(inc.id, marker);
  }

  incidentTip(inc) {
    const where = [inc.address, inc.ward].filter(Boolean).join(', ');
    return `P${inc.priority} · ${typeLabel(inc.type_code)}${where ? ` · ${where}` : ''} · ${label('state', inc.state)}`;
  }

  removeIncident(id) {
    drop(this.incidents, id);
  }

  select(id) {
    const prev = this.selected;
    this.selected = id;
    for (const key of [prev, id]) {
      const m = key && this.incidents.get(key);
      if (m) {
        const style = this.incidentStyle(m._icc);
        m._look = styleKey(style);
        m.setRadius(style.radius);
        m.setStyle(style);
        if (key === id) m.bringToFront();
      }
    }
  }

  focus(lat, lon) {
    if (lat == null || lon == null) return;
    const ll = L.latLng(lat, lon);
    if (!this.map.getBounds().pad(-0.15).contains(ll)) this.map.panTo(ll);
  }

  // --- units ------------------------------------------------------------------------------

  /** A unit's marker: fill by status, outline by agency; a stale position dashed and
   * faded, a unit that never reported a position (drawn at its station) small and hollow
   * (not dashed: a dashed stroke costs the canvas more, and most units may have none). */
  unitStyle(u, where) {
    const never = where === 'never';
    const stale = where === 'stale';
    return {
      radius: never ? 3.5 : 4.5,
      fillColor: STATUS_COLOUR[u.status] || '#94a3b8',
      fillOpacity: never ? 0.15 : stale ? 0.45 : 1,
      color: AGENCY_COLOUR[u.agency] || '#334155',
      weight: never ? 1.5 : 2,
      opacity: never ? 0.7 : 1,
      dashArray: stale ? '2 2' : null,
    };
  }

  /** A unit's tooltip: call sign, status and how old its position is. */
  unitTip(u) {
    // A crew on scene or at a hospital: for how long (its welfare timer).
    const since = welfare(u.status) && u.update_time ? t(`welfare.${u.status}`, { d: duration((toServer(Date.now()) - Date.parse(u.update_time)) / 1000) }) : '';
    return [u.call_sign, since || label('status', u.status), positionNote(u)].filter(Boolean).join(' · ');
  }

  /** Units whose position went stale (or fresh again) since last drawn: redrawn. */
  restyleUnits(now) {
    for (const m of this.units.values()) {
      const where = positionState(m._icc, now);
      if (where !== m._where) {
        m._where = where;
        m.setStyle(this.unitStyle(m._icc, where));
      }
    }
  }

  /** Stations by id (GET /stations): where a unit with no position report yet is shown. */
  setStations(stations) {
    this.stations = new Map(stations.map((s) => [s.id, s]));
  }

  /** A unit's own last position, else its home station's; null when neither is known. */
  unitPosition(u) {
    if (u.lat != null && u.lon != null) return [u.lat, u.lon];
    const s = u.station && this.stations.get(u.station);
    return s && s.lat != null ? [s.lat, s.lon] : null;
  }

  upsertUnit(u) {
    const m = this.units.get(u.id);
    const at = this.unitPosition(u);
    if (!at) {
      if (m) this.removeUnit(u.id);
      return;
    }
    if (m) {
      const prev = m._icc;
      m._icc = u;
      const ll = m.getLatLng();
      if (ll.lat !== at[0] || ll.lng !== at[1]) m.setLatLng(at);
      const where = positionState(u, Date.now());
      if (prev.status !== u.status || prev.agency !== u.agency || where !== m._where) {
        m._where = where;
        m.setStyle(this.unitStyle(u, where));
      }
      if (this.popupUnit === u.id) this.refreshPopup();
      return;
    }
    const where = positionState(u, Date.now());
    const marker = L.circleMarker(at, { ...this.unitStyle(u, where), renderer: this.renderer, bubblingMouseEvents: false });
    marker._icc = u;
    marker._where = where;
    marker.on('click', (e) => this.clicked(e, () => this.openUnit(marker._icc.id)));
    marker.bindTooltip(() => asText(this.unitTip(marker._icc)), { direction: 'top', offset: [0, -4] });
    marker.addTo(this.map);
    marker.bringToBack();
    this.units.set(u.id, marker);
  }

  removeUnit(id) {
    if (drop(this.units, id) && this.popupUnit === id) this.map.closePopup();
  }

  /** Opens the unit's popup (its content filled by onUnitPopup). */
  openUnit(id) {
    const m = this.units.get(id);
    if (!m) return;
    const content = h('div', { class: 'unit-popup' });
    this.onUnitPopup(m._icc, content);
    this.popup = L.popup({ maxWidth: 320 }).setLatLng(m.getLatLng()).setContent(content).openOn(this.map);
    this.popupUnit = id;
  }

  refreshPopup() {
    const m = this.popupUnit && this.units.get(this.popupUnit);
    if (!m || !this.popup || !this.popup.isOpen()) return;
    const el = this.popup.getContent();
    // Keep the popup's form (a status choice in progress) while the dispatcher is using it.
    if (el.contains(document.activeElement)) return;
    el.replaceChildren();
    this.onUnitPopup(m._icc, el);
    this.popup.setLatLng(m.getLatLng());
  }

  // --- hospitals ------------------------------------------------------------------------

  upsertHospital(x) {
    let m = this.hospitals.get(x.id);
    if (x.lat == null || x.lon == null) return;
    const fill = { FULL: '#7f1d1d', PARTIAL: '#f59e0b' }[x.diversion] || '#e2e8f0';
    const style = { radius: 6, fillColor: fill, fillOpacity: 1, color: '#0f172a', weight: 1, label: 'H', labelColour: x.diversion === 'FULL' ? '#fff' : '#b91c1c' };
    if (m) {
      m._icc = x;
      m.setStyle(style);
      return;
    }
    m = new LabelledCircle([x.lat, x.lon], { ...style, renderer: this.renderer, bubblingMouseEvents: false });
    m._icc = x;
    m.on('click', (e) => this.clicked(e, () => {}));
    m.bindTooltip(() => {
      const hx = m._icc;
      const name = (lang() === 'en' ? hx.name_en : hx.name_vi) || hx.name_vi || hx.id;
      const beds = hx.beds_available != null ? ` · ${t('map.beds', { n: hx.beds_available })}` : '';
      return asText(`${t('map.hospital')}: ${name}${beds}${hx.diversion ? ` · ${label('diversion', hx.diversion)}` : ''}`);
    });
    m.addTo(this.map);
    this.hospitals.set(x.id, m);
  }

  removeHospital(id) {
    drop(this.hospitals, id);
  }

  /** Replaces every marker with the picture's (reusing markers whose item is still there). */
  reset(picture) {
    for (const [id] of this.incidents) if (!picture.incidents.has(id)) this.removeIncident(id);
    for (const [id] of this.units) if (!picture.units.has(id)) this.removeUnit(id);
    for (const [id] of this.hospitals) if (!picture.hospitals.has(id)) this.removeHospital(id);
    for (const x of picture.hospitals.values()) this.upsertHospital(x);
    for (const u of picture.units.values()) this.upsertUnit(u);
    for (const inc of picture.incidents.values()) this.upsertIncident(inc);
  }

  // --- picking a location for a new call ------------------------------------------------

  setPicking(on) {
    this.picking = on;
    this.map.getContainer().classList.toggle('picking', on);
    if (!on) this.clearPick();
  }

  setPick(lat, lon) {
    if (!this.pickMarker) {
      this.pickMarker = L.marker([lat, lon], { draggable: true, keyboard: true, title: t('map.picked'), alt: t('map.picked'), zIndexOffset: 1000 });
      this.pickMarker.on('dragend', () => {
        const ll = this.pickMarker.getLatLng();
        this.onPick(ll.lat, ll.lng);
      });
      this.pickMarker.addTo(this.map);
    } else {
      this.pickMarker.setLatLng([lat, lon]);
    }
  }

  clearPick() {
    if (this.pickMarker) {
      this.pickMarker.remove();
      this.pickMarker = null;
    }
  }

  /** Legend control (agencies, unit statuses), rebuilt on a language change. */
  legend() {
    this.relabelZoom();
    if (!this.legendControl) {
      this.legendControl = L.control({ position: 'bottomright' });
      this.legendControl.onAdd = () => {
        this.legendEl = h('details', { class: 'legend' });
        L.DomEvent.disableClickPropagation(this.legendEl);
        this.fillLegend();
        return this.legendEl;
      };
      this.legendControl.addTo(this.map);
    } else {
      this.fillLegend();
    }
  }

  fillLegend() {
    const dot = (fill, stroke, size, w = 1.5, line = 'solid') =>
      h('span', { class: 'dot', style: { background: fill, border: `${w}px ${line} ${stroke}`, width: `${size}px`, height: `${size}px` }, 'aria-hidden': 'true' });
    const open = this.legendEl.open;
    this.legendEl.replaceChildren(
      h('summary', null, t('map.legend')),
      h('p', null, t('map.legend_incidents')),
      h(
        'ul',
        null,
        ['POLICE', 'FIRE', 'MEDICAL'].map((a) => h('li', null, dot(AGENCY_COLOUR[a], '#f8fafc', 14), label('agency', a))),
        h('li', null, dot(AGENCY_COLOUR.FIRE, '#0f172a', 18, 3.5), t('map.multi')),
        [1, 2, 3, 4].map((p) => h('li', null, dot('#94a3b8', '#f8fafc', RADIUS[p] * 2), `P${p}`)),
      ),
      h('p', null, t('map.legend_units')),
      h(
        'ul',
        null,
        Object.entries(STATUS_COLOUR).map(([s, c]) => h('li', null, dot(c, '#334155', 10, 2), label('status', s))),
        h('li', { class: 'stale' }, dot('rgba(248,250,252,0.45)', '#334155', 10, 2, 'dashed'), t('map.legend_stale', { d: durationWords(STALE_AFTER_S) })),
        h('li', { class: 'never' }, dot('rgba(248,250,252,0.15)', '#334155', 8, 1.5), t('map.legend_never')),
      ),
    );
    this.legendEl.open = open;
  }
}
