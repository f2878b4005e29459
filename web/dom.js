// Small DOM helpers. All user-provided text goes through text nodes or
// attributes, never through innerHTML.

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'indeterminate']);

/**
 * Create an element: h('a', { href: '/', class: 'x', onclick: fn }, 'text', child, [more]).
 * - `class` accepts a string or an array (falsy entries dropped).
 * - `on*` keys with a function value become event listeners.
 * - `dataset` takes an object of data-* values.
 * - `value`, `checked`, `disabled`, ... are set as properties.
 * - null / undefined / false attribute values are skipped; true becomes "".
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Create an SVG element (for small decorative icons). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v != null && v !== false) el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

/** A decorative 24x24 stroke icon built from path data strings. */
export function icon(paths, cls = 'icon') {
  return s(
    'svg',
    {
      class: cls,
      viewBox: '0 0 24 24',
      fill: 'none',
      stroke: 'currentColor',
      'stroke-width': '1.8',
      'stroke-linecap': 'round',
      'stroke-linejoin': 'round',
      'aria-hidden': 'true',
      focusable: 'false',
    },
    ...[].concat(paths).map((d) => s('path', { d })),
  );
}

export function setAttrs(el, attrs) {
  if (!attrs) return el;
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') {
      el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) {
        if (dv != null) el.dataset[dk] = String(dv);
      }
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (PROPS.has(k)) {
      el[k] = v;
    } else if (k === 'style') {
      throw new Error('inline styles are blocked by the CSP; use a class');
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  return el;
}

export function append(parent, children) {
  for (const child of children) {
    if (child == null || child === false || child === true) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** A document-unique id with a readable prefix. */
export function uniqueId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** Number of Unicode scalar values (what the server counts), not UTF-16 units. */
export function charCount(str) {
  let n = 0;
  for (const _ of str) n += 1;
  return n;
}

/** Format an ISO timestamp as a date in the viewer's locale and time zone. */
export function formatDate(iso, opts = { dateStyle: 'medium' }) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  try {
    return new Intl.DateTimeFormat(undefined, opts).format(d);
  } catch {
    return d.toDateString();
  }
}

/** The viewer's IANA time zone, if the browser knows it. */
export function viewerTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch {
    return '';
  }
}

/** Initials for an avatar placeholder ("Ada Lovelace" -> "AL"). */
export function initials(name) {
  const parts = String(name || '').trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = [...parts[0]][0] || '';
  const last = parts.length > 1 ? [...parts[parts.length - 1]][0] || '' : '';
  return (first + last).toUpperCase();
}
