// Text helpers: Vietnamese search without diacritics, durations, times.

/** Lower case without diacritics: "Cháy nhà" -> "chay nha", "Đường" -> "duong". */
export function fold(s) {
  return (s ?? '')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/đ/g, 'd')
    .replace(/\s+/g, ' ')
    .trim();
}

/** An index over incident types for `searchTypes`. */
export function indexTypes(types) {
  return types.map((type, order) => {
    const vi = fold(type.label_vi);
    const en = fold(type.label_en);
    const code = fold(type.code);
    const extra = fold((type.keywords_vi || []).join(' '));
    return { type, order, vi, en, code, all: ` ${vi} ${en} ${code} ${code.replace(/[._]/g, ' ')} ${extra} ` };
  });
}

/** Types matching `query` (Vietnamese with or without diacritics, English, or code), best
 * first: the label in the screen's language `lang` starting with the query, then one of its
 * words; then the same in the other language or the code; then anywhere. Among equals the
 * more urgent type first, then the shorter (more general) label, then the catalog's order. */
export function searchTypes(index, query, limit = 12, lang = 'vi') {
  const q = fold(query);
  if (!q) return index.slice(0, limit).map((e) => e.type);
  const words = q.split(' ');
  const escaped = q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const whole = new RegExp(`(^|[^a-z0-9])${escaped}([^a-z0-9]|$)`);
  const rank = (label, base) => {
    if (label.startsWith(q)) return whole.test(label) ? base : base + 0.25;
    if (whole.test(label)) return base + 0.5;
    return label.includes(` ${q}`) ? base + 0.75 : null;
  };
  const scored = [];
  for (const e of index) {
    if (!words.every((w) => e.all.includes(w))) continue;
    const [mine, other] = lang === 'en' ? [e.en, e.vi] : [e.vi, e.en];
    const score =
      rank(mine, 0) ?? (e.code.startsWith(q) ? 2 : null) ?? rank(other, 2) ?? (e.all.includes(q) ? 4 : 5);
    scored.push([score, e.type.priority || 9, mine.length, e.order, e.type]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3]);
  return scored.slice(0, limit).map((s) => s[4]);
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** An ISO time -> milliseconds since the epoch, or null. */
export const ms = (iso) => (iso ? Date.parse(iso) : null);

const clock = new Intl.DateTimeFormat('vi-VN', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const dateClock = new Intl.DateTimeFormat('vi-VN', { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

/** Local wall-clock time of an ISO time (24 h, as the command center reads it). */
export function clockTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Date.now() - d.getTime() > 20 * 3600e3 ? dateClock.format(d) : clock.format(d);
}

export const shortId = (id) => (id ? String(id).slice(0, 8) : '');
