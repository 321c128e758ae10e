// Finding incidents again, open and ended: words of the id, place, type or a unit's call
// sign within a time range (GET /incidents), newest first. A result opens the incident's
// detail, closed ones included.
import { api } from './api.js';
import { h } from './dom.js';
import { label, t } from './i18n.js';
import { typeLabel } from './model.js';
import { clockTime, shortId } from './text.js';

const STATES = ['all', 'open', 'ended'];
const LIMIT = 50;

/** A `datetime-local` value (local time, no zone) -> ISO 8601 in UTC, or null. */
function isoOf(local) {
  if (!local) return null;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class SearchPanel {
  /** ctx: {onOpen(incident), showError(err), onClose()} */
  constructor(panel, ctx) {
    this.panel = panel;
    this.ctx = ctx;
    this.form = { q: '', state: 'all', since: '', until: '' };
    this.result = null;
    this.busy = false;
    this.generation = 0;
  }

  get visible() {
    return !this.panel.hidden;
  }

  show() {
    this.panel.hidden = false;
    this.render();
  }

  /** The words' field gets the keyboard (once the side panel is shown). */
  focus() {
    const q = this.panel.querySelector('#search-q');
    if (!q) return;
    q.focus();
    q.select();
  }

  hide() {
    this.panel.hidden = true;
  }

  async run() {
    const gen = ++this.generation;
    const params = new URLSearchParams({ q: this.form.q.trim(), state: this.form.state, limit: String(LIMIT) });
    const since = isoOf(this.form.since);
    const until = isoOf(this.form.until);
    if (since) params.set('since', since);
    if (until) params.set('until', until);
    this.busy = true;
    this.render();
    try {
      const reply = await api(`/incidents?${params}`);
      if (gen !== this.generation) return;
      this.result = reply;
    } catch (err) {
      if (gen === this.generation) this.ctx.showError(err);
    } finally {
      if (gen === this.generation) {
        this.busy = false;
        this.render();
      }
    }
  }

  render() {
    if (this.panel.hidden) return;
    const active = this.panel.contains(document.activeElement) ? document.activeElement.id : null;
    const bind = (el, key) => {
      el.addEventListener('input', () => (this.form[key] = el.value));
      return el;
    };
    const field = (id, caption, el) => h('div', { class: 'field' }, h('label', { for: id }, caption), el);
    const form = h(
      'form',
      { id: 'search-form', role: 'search', onsubmit: (e) => (e.preventDefault(), this.run()) },
      field('search-q', t('search.words'), bind(h('input', { id: 'search-q', type: 'search', value: this.form.q, placeholder: t('search.placeholder'), autocomplete: 'off' }), 'q')),
      field('search-state', t('search.state'), bind(h('select', { id: 'search-state' }, STATES.map((s) => h('option', { value: s, selected: s === this.form.state }, t(`search.state.${s}`)))), 'state')),
      h(
        'div',
        { class: 'pair' },
        field('search-since', t('search.since'), bind(h('input', { id: 'search-since', type: 'datetime-local', value: this.form.since }), 'since')),
        field('search-until', t('search.until'), bind(h('input', { id: 'search-until', type: 'datetime-local', value: this.form.until }), 'until')),
      ),
      h('p', { class: 'hint' }, t('search.hint')),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', id: 'search-submit', class: 'primary', disabled: this.busy }, t(this.busy ? 'search.busy' : 'search.submit'))),
    );
    this.panel.replaceChildren(
      h('header', { class: 'panel-head' }, h('h2', { id: 'search-title' }, t('search.title')), h('button', { type: 'button', class: 'icon', 'aria-label': t('panel.close'), title: t('panel.close'), onclick: () => this.ctx.onClose() }, '×')),
      ...[form, this.results()].filter(Boolean),
    );
    if (active) this.panel.querySelector(`#${CSS.escape(active)}`)?.focus();
  }

  results() {
    const r = this.result;
    if (!r) return null;
    if (!r.incidents.length) return h('p', { class: 'empty', role: 'status' }, t('search.none'));
    return h(
      'div',
      { class: 'search-results' },
      h('p', { class: 'hint', role: 'status' }, t(r.complete ? 'search.count' : 'search.count_partial', { n: r.incidents.length, scanned: r.scanned })),
      h(
        'ol',
        { class: 'results', 'aria-label': t('search.results') },
        r.incidents.map((inc) =>
          h(
            'li',
            null,
            h(
              'button',
              { type: 'button', class: 'result', dataset: { id: inc.id }, onclick: () => this.ctx.onOpen(inc) },
              h('span', { class: `badge p${inc.priority}` }, `P${inc.priority}`),
              h(
                'span',
                { class: 'result-what' },
                h('strong', null, typeLabel(inc.type_code)),
                h('span', { class: 'muted' }, [inc.address, inc.ward].filter(Boolean).join(', ')),
                h(
                  'span',
                  { class: 'muted' },
                  [shortId(inc.id), clockTime(inc.create_time), [...new Set((inc.assignments || []).map((a) => a.call_sign).filter(Boolean))].join(' ')].filter(Boolean).join(' · '),
                ),
              ),
              h('span', { class: `state-chip state-${inc.state}` }, label('state', inc.state)),
            ),
          ),
        ),
      ),
    );
  }

  relabel() {
    this.render();
  }
}
