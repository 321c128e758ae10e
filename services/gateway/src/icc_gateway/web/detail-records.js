// The incident panel's record tabs: the chronology (who did what, when), the notes (and
// adding one), and for supervisors the trace timeline (every span of the incident's
// traces as a waterfall). `d` is the IncidentDetail whose fetched data they show.
import { ApiError, api } from './api.js';
import { h, thead } from './dom.js';
import { label, t } from './i18n.js';
import { OPEN_STATES, can } from './model.js';
import { addQuestions, knowsQuestion, reasonsText } from './reasons.js';
import { clockTime } from './text.js';

// Types whose key questions were asked for (once each), to say answers in words.
const askedQuestions = new Set();

/** The key questions of `type` once, then the panel drawn again with answers in words. */
async function loadQuestions(d, type) {
  if (askedQuestions.has(type)) return;
  askedQuestions.add(type);
  try {
    const reply = await api(`/key-questions?type_code=${encodeURIComponent(type)}`);
    addQuestions(reply.questions);
    d.render();
  } catch {
    /* the answers stay as their ids */
  }
}

/** Loading, or the fetch's error, for a tab whose data is not (yet) there; else null. */
function notReady(d, data) {
  if (!data) return h('p', { class: 'muted' }, t('detail.loading'));
  if (data instanceof ApiError) return h('p', { class: 'muted' }, d.ctx.errorText(data));
  return null;
}

export function chronologyTab(d, inc) {
  const data = d.data.chronology;
  const waiting = notReady(d, data);
  if (waiting) return waiting;
  const unknown = data.entries.some((e) => (e.coded_detail || []).some((r) => r.code === 'QUESTION_ANSWERED' && !knowsQuestion(r.params.question)));
  if (unknown && inc) loadQuestions(d, inc.type_code);
  if (!data.entries.length) return h('p', { class: 'muted' }, t('detail.no_chronology'));
  // The system's own accounts named in words; a person, partner or unit as it is.
  const who = (a) => label('actor', a.user);
  const actor = (a) => [a?.user && who(a), a?.agency && label('agency', a.agency), a?.role && label('role', a.role)].filter(Boolean).join(' · ');
  return h(
    'table',
    { class: 'grid chronology' },
    thead(...['detail.time', 'detail.actor', 'detail.action', 'detail.detail'].map((k) => t(k))),
    h(
      'tbody',
      null,
      data.entries.map((e) =>
        h(
          'tr',
          null,
          h('td', { class: 'nowrap' }, clockTime(e.time)),
          h('td', null, actor(e.actor)),
          h('td', null, label('action', e.action)),
          // An entry without codes (none should be: older ones are TEXT) keeps its words.
          h('td', null, e.coded_detail && e.coded_detail.length ? reasonsText(e.coded_detail) : e.detail),
        ),
      ),
    ),
  );
}

export function notesTab(d, inc) {
  const notes = inc.notes || [];
  const out = [
    notes.length
      ? h(
          'ol',
          { class: 'notes' },
          notes.map((n) => h('li', null, h('div', { class: 'muted' }, `${clockTime(n.create_time)} · ${n.author || ''}`), h('p', null, n.text))),
        )
      : h('p', { class: 'muted' }, t('detail.no_notes')),
  ];
  if (can(d.ctx.user(), 'call_taker') && OPEN_STATES.has(inc.state)) {
    out.push(
      h(
        'form',
        { class: 'inline-form', id: 'note-form', onsubmit: (e) => (e.preventDefault(), d.addNote(e.submitter)) },
        d.input('note-text', 'text', t('detail.note_text'), d.form.note, (v) => (d.form.note = v), { textarea: true }),
        h('button', { type: 'submit', class: 'primary', dataset: { key: 'add-note' } }, t('detail.add_note')),
      ),
    );
  }
  return out;
}

/** A span's row: its name indented by depth, its bar placed on the incident's time axis. */
function spanRow(s, end) {
  return h(
    'div',
    { class: `wf-row${s.error ? ' error' : ''}`, role: 'row', title: t('detail.trace_ms', { start: Math.round(s.start_ms), duration: s.duration_ms.toFixed(1) }) },
    h('span', { class: 'wf-name', role: 'cell', style: { paddingLeft: `${(s.depth || 0) * 12}px` } }, h('strong', null, s.service), ` ${s.operation}`),
    h(
      'span',
      { class: 'wf-track', role: 'cell' },
      h('span', {
        class: 'wf-bar',
        style: { left: `${((s.start_ms / end) * 100).toFixed(2)}%`, width: `${Math.max((s.duration_ms / end) * 100, 0.4).toFixed(2)}%` },
      }),
      h('span', { class: 'wf-ms' }, `${s.duration_ms.toFixed(1)} ms`),
    ),
  );
}

/** The heading row of a step of the incident's life (intake, dispatch decision, ...). */
function stepRow(step) {
  const name = label('trace.step', step.step);
  return h(
    'div',
    { class: 'wf-row wf-step', role: 'row', dataset: { step: step.step } },
    h('span', { role: 'rowheader' }, name),
    h('span', { class: 'wf-ms', role: 'cell' }, t('detail.trace_step', { n: step.spans, start: Math.round(step.start_ms), end: Math.round(step.end_ms) })),
  );
}

export function timelineTab(d) {
  const data = d.data.trace;
  if (data instanceof ApiError) {
    return h('p', { class: 'note' }, data.status === 503 ? t('detail.trace_unavailable') : d.ctx.errorText(data));
  }
  const waiting = notReady(d, data);
  if (waiting) return waiting;
  const spans = data.spans || [];
  const hidden = data.reads_hidden ? h('p', { class: 'muted' }, t('detail.trace_reads_hidden', { n: data.reads_hidden })) : null;
  if (!spans.length) return [h('p', { class: 'muted' }, t('detail.trace_empty')), hidden];
  const end = Math.max(...spans.map((s) => s.start_ms + s.duration_ms), 1);
  // The spans come grouped by step, in the order of the incident's life: each group
  // opens with its step's heading.
  const steps = new Map((data.steps || []).map((s) => [s.step, s]));
  const rows = [];
  let step = null;
  for (const s of spans) {
    if (s.step !== step && steps.has(s.step)) rows.push(stepRow(steps.get(s.step)));
    step = s.step;
    rows.push(spanRow(s, end));
  }
  return [
    h(
      'div',
      { class: 'waterfall', role: 'table', 'aria-label': t('detail.tab.timeline') },
      h('div', { class: 'wf-row wf-head', role: 'row' }, h('span', { role: 'columnheader' }, t('detail.trace_span')), h('span', { role: 'columnheader' }, `0 – ${Math.round(end)} ms`)),
      rows,
    ),
    hidden,
  ];
}
