// The call form's place box: what the caller says ("cho ben thanh", a ward without
// diacritics, "quận 1") searched in the city's gazetteer (GET /places) as it is typed,
// the results in a listbox (arrows, Enter, Escape), nearest the map's centre among equals.
// Enter before the results have come waits for them and takes the best.
import { api } from './api.js';
import { $, h } from './dom.js';
import { label, t } from './i18n.js';

// Results asked for per search, and how long typing must pause before one is sent.
const MAX_RESULTS = 8;
const DEBOUNCE_MS = 120;

export class PlaceBox {
  /** @param root the form; ctx: {centre() -> [lat, lon] | null, onChoose(place), errorText(err)} */
  constructor(root, ctx) {
    this.ctx = ctx;
    this.input = $('#cf-place', root);
    this.list = $('#cf-place-list', root);
    this.chosenHint = $('#cf-place-chosen', root);
    this.matches = [];
    this.active = -1;
    this.chosen = null;
    this.error = null;
    this.timer = null;
    this.controller = null;
    this.pending = null; // the search in flight, resolved with its results
    this.query = '';

    this.input.addEventListener('input', () => {
      if (this.chosen && this.input.value !== this.chosen.label) this.chosen = null;
      this.renderChosen();
      this.schedule();
    });
    this.input.addEventListener('focus', () => {
      if (this.matches.length && !this.chosen) this.renderList();
    });
    this.input.addEventListener('blur', () => setTimeout(() => this.closeList(), 150));
    this.input.addEventListener('keydown', (e) => this.onKey(e));
  }

  schedule() {
    clearTimeout(this.timer);
    const q = this.input.value.trim();
    if (!q) {
      this.abort();
      this.matches = [];
      this.error = null;
      this.closeList();
      return;
    }
    this.timer = setTimeout(() => this.search(), DEBOUNCE_MS);
  }

  abort() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.pending = null;
  }

  /** Searches what the box holds now; resolves with the results (the same search once). */
  search() {
    clearTimeout(this.timer);
    const q = this.input.value.trim();
    if (!q) return Promise.resolve([]);
    if (this.pending && this.query === q) return this.pending;
    this.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.query = q;
    const params = new URLSearchParams({ q, max_results: String(MAX_RESULTS) });
    const centre = this.ctx.centre();
    if (centre) {
      params.set('lat', centre[0].toFixed(5));
      params.set('lon', centre[1].toFixed(5));
    }
    this.pending = api(`/places?${params}`, { signal: controller.signal }).then(
      (reply) => {
        if (this.controller !== controller) return this.matches;
        this.matches = reply.places || [];
        this.error = null;
        this.active = this.matches.length ? 0 : -1;
        this.pending = null;
        if (document.activeElement === this.input) this.renderList();
        return this.matches;
      },
      (err) => {
        if (err.name === 'AbortError' || this.controller !== controller) return [];
        this.matches = [];
        this.active = -1;
        this.error = err;
        this.pending = null;
        this.renderList();
        return [];
      },
    );
    return this.pending;
  }

  renderList() {
    let items;
    if (this.error) {
      items = [h('li', { class: 'none', role: 'option', 'aria-disabled': 'true' }, `${this.ctx.errorText(this.error)} ${t('calltake.place_failed')}`)];
    } else if (!this.matches.length) {
      items = [h('li', { class: 'none', role: 'option', 'aria-disabled': 'true' }, t('calltake.place_none'))];
    } else {
      items = this.matches.map((place, i) =>
        h(
          'li',
          {
            id: `cf-place-opt-${i}`,
            role: 'option',
            class: i === this.active ? 'active' : '',
            'aria-selected': i === this.active ? 'true' : 'false',
            dataset: { id: place.id },
            onmousedown: (e) => {
              e.preventDefault();
              this.choose(place);
            },
          },
          h('span', { class: 'place-kind' }, label('calltake.place_kind', place.kind || 'ADDRESS')),
          h('span', { class: 'opt-label' }, place.label),
          h('small', null, describe(place)),
        ),
      );
    }
    this.list.replaceChildren(...items);
    this.list.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    if (this.active >= 0) this.input.setAttribute('aria-activedescendant', `cf-place-opt-${this.active}`);
    else this.input.removeAttribute('aria-activedescendant');
  }

  closeList() {
    this.list.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  async onKey(e) {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (this.list.hidden || this.pending) {
        await this.search();
        if (this.list.hidden) this.renderList();
        return;
      }
      const n = this.matches.length;
      if (!n) return;
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.renderList();
      $(`#cf-place-opt-${this.active}`, this.list)?.scrollIntoView({ block: 'nearest' });
    } else if (e.key === 'Enter') {
      // Never the form's submit: Enter here chooses a place.
      e.preventDefault();
      if (this.chosen && this.input.value === this.chosen.label) return;
      if (this.timer || this.pending || this.query !== this.input.value.trim()) {
        clearTimeout(this.timer);
        this.timer = null;
        await this.search();
      }
      if (this.active >= 0 && this.matches[this.active]) this.choose(this.matches[this.active]);
    } else if (e.key === 'Escape') {
      this.closeList();
    }
  }

  choose(place) {
    this.chosen = place;
    this.input.value = place.label;
    this.closeList();
    this.renderChosen();
    this.ctx.onChoose(place);
  }

  renderChosen() {
    const p = this.chosen;
    this.chosenHint.textContent = p ? t(p.approximate ? 'calltake.place_placed_approx' : 'calltake.place_placed', { where: [p.label, describe(p)].filter(Boolean).join(' · ') }) : '';
  }

  /** Forgets the place (the call was placed another way, or the form emptied). */
  clear({ text = true } = {}) {
    this.abort();
    clearTimeout(this.timer);
    this.chosen = null;
    this.matches = [];
    this.error = null;
    if (text) this.input.value = '';
    this.closeList();
    this.renderChosen();
  }

  relabel() {
    if (!this.list.hidden) this.renderList();
    this.renderChosen();
  }
}

/** A result's second line: its ward, what a former district became, its address. */
function describe(place) {
  const parts = [];
  if (place.address && place.address !== place.label) parts.push(place.address);
  if (place.wards && place.wards.length) parts.push(t('calltake.place_became', { wards: place.wards.join(', ') }));
  else if (place.ward && !place.label.includes(place.ward)) parts.push(t('calltake.place_ward', { ward: place.ward }));
  return parts.join(' · ');
}
