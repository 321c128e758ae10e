// Tiny DOM helpers: no framework, no HTML from strings. Text is always a text node, and a
// style is set property by property (the CSSOM), which the Content-Security-Policy allows
// where it refuses a `style` attribute: the screen has no inline style and no innerHTML.

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'open', 'required', 'type']);

/** h('button', {class: 'x', onclick: fn, style: {left: '3px'}}, 'text', child) -> element. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'style') Object.assign(el.style, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** Replaces all children of `el` (one reflow). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c != null && c !== false));
}

/** A v4 UUID: crypto.randomUUID where the page is a secure context, else from getRandomValues. */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** A table's header row: a `<th scope="col">` per cell, a cell being its text, or the
 * `<th>`'s attributes with `text`; null cells are left out. */
export function thead(...cells) {
  const th = (cell) => {
    if (typeof cell === 'string') return h('th', { scope: 'col' }, cell);
    const { text, ...props } = cell;
    return h('th', { scope: 'col', ...props }, text);
  };
  return h('thead', null, h('tr', null, cells.filter((c) => c != null).map(th)));
}
