// Reasons, shortfalls, releases and chronology entries in the screen's language: the
// services state them as codes with parameters (docs/codes.md), each put into words here
// from `reason.CODE` in messages-dispatch-*.js, its parameters as labels (kinds, agencies,
// states, types, stations) and numbers in the reader's way (3 phút 49 giây, 2,7 km).
// A person's own words (`text`, `reason`, `resolution`) are shown as they are.
import { has, label, lang, t } from './i18n.js';
import { typeLabel } from './model.js';
import { shortId } from './text.js';

const stationNames = new Map();
/** Stations (GET /stations) by id, so a reason names a station as people do. */
export function setStations(stations) {
  stationNames.clear();
  for (const s of stations) stationNames.set(s.id, s.name || s.id);
}

/** A station's name by its id ('' for none). */
export const stationName = (id) => (id ? stationNames.get(id) || id : '');

const questions = new Map();
/** Key questions (GET /key-questions), so an answer is said in words, not by its id. */
export function addQuestions(list) {
  for (const q of list || []) questions.set(q.id, q);
}
export const knowsQuestion = (id) => questions.has(id);

const bare = (name) => String(name || '').split('/').pop();

/** Seconds in words: "3 phút 49 giây" / "3 min 49 s"; "45 giây" under a minute. */
export function durationWords(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return m ? t('time.min_s', { m, s: lang() === 'en' ? String(s).padStart(2, '0') : s }) : t('time.s', { s });
}

/** Seconds as m:ss, "—" when unknown (0: no route was known). */
export function etaClock(seconds) {
  if (!seconds || seconds < 0) return t('time.none');
  const total = Math.round(seconds);
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

/** Metres as kilometres with one decimal, in the reader's way: "2,7 km" / "2.7 km". */
export function km(meters) {
  if (meters == null || meters === '' || Number.isNaN(Number(meters))) return t('time.none');
  const value = (Number(meters) / 1000).toFixed(1);
  return `${lang() === 'en' ? value : value.replace('.', ',')} km`;
}

const list = (value, one) =>
  String(value || '')
    .split(',')
    .filter(Boolean)
    .map(one)
    .join(' / ');

// How each parameter is said, by its name; `code` settles the few names whose meaning
// depends on the code (`before`/`after` are types, priorities or states).
const PARAM = {
  kind: (v) => label('kind', v),
  planned_kind: (v) => label('kind', v),
  kinds: (v) => list(v, (k) => label('kind', k)),
  agency: (v) => label('agency', v),
  planned_agency: (v) => label('agency', v),
  eta_seconds: (v) => durationWords(v),
  threshold_seconds: (v) => durationWords(v),
  seconds: (v) => durationWords(v),
  distance_meters: (v) => km(v),
  station: (v) => stationNames.get(bare(v)) || bare(v),
  status: (v) => label('status', v),
  call_line: (v) => label('line', v),
  type_code: (v) => typeLabel(v),
  incident: (v) => shortId(bare(v)),
  units: (v) => String(v || '').split(',').filter(Boolean).join(', '),
  field: (v) => label('field', v),
};
const BEFORE_AFTER = {
  TYPE_CHANGED: (v) => typeLabel(v),
  STATE_CHANGED: (v) => label('state', v),
  PRIORITY_CHANGED: (v) => v,
};

/** One reason in words; one of a code this screen does not know: its text, if any. */
export function reasonText(r) {
  if (!r) return '';
  const params = r.params || {};
  const key = `reason.${r.code}`;
  if (!has(key)) return params.text || '';
  const said = {};
  for (const [name, value] of Object.entries(params)) {
    const say = (name === 'before' || name === 'after' ? BEFORE_AFTER[r.code] : null) || PARAM[name];
    said[name] = say ? say(value) : value;
  }
  if (r.code === 'QUESTION_ANSWERED' && questions.has(params.question)) {
    const q = questions.get(params.question);
    const option = (q.options || []).find((o) => o.value === params.answer);
    const en = lang() === 'en';
    said.question = (en ? q.text_en : q.text_vi) || params.question;
    if (option) said.answer = (en ? option.label_en : option.label_vi) || params.answer;
  }
  // A parameter that may be absent (a person's words): the wording without it.
  for (const name of ['text', 'resolution', 'reason']) {
    if (!(name in params) && has(`${key}.no_${name}`)) return t(`${key}.no_${name}`, said).replace(/\{\w+\}/g, t('time.none'));
  }
  // A parameter the code should have but the service left out: a dash, not "{name}".
  return t(key, said).replace(/\{\w+\}/g, t('time.none'));
}

/** Several reasons (a chronology entry's), joined as one line. */
export const reasonsText = (reasons) => (reasons || []).map(reasonText).filter(Boolean).join('; ');
