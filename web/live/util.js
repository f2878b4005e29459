// Shared helpers of the live room (web/live/): icons, the control-plane API,
// a server clock estimate, relative times, and DOM updates that keep the
// keyboard focus when a part of the page is redrawn from a new state.

import { h, icon, replace } from '../dom.js';
import { api } from '../api.js';
import { ICONS } from '../sessions-ui.js';

export const LI = {
  ...ICONS,
  mic: ['M12 2a3 3 0 0 0-3 3v7a3 3 0 0 0 6 0V5a3 3 0 0 0-3-3z', 'M19 10v2a7 7 0 0 1-14 0v-2', 'M12 19v3', 'M8 22h8'],
  micOff: ['M2 2l20 20', 'M9 9v3a3 3 0 0 0 5.1 2.1', 'M15 9.3V5a3 3 0 0 0-5.9-.6', 'M17 16.9A7 7 0 0 1 5 12v-2', 'M19 10v2a7 7 0 0 1-.1 1.2', 'M12 19v3', 'M8 22h8'],
  camera: ICONS.video,
  cameraOff: ['M2 2l20 20', 'M16 16v1a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2h2', 'M9.7 5H14a2 2 0 0 1 2 2v3.3l1 1L23 7v10'],
  screen: ['M3 4h18a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z', 'M8 21h8', 'M12 17v4'],
  hand: [
    'M18 11V6a2 2 0 0 0-4 0v5',
    'M14 10V4a2 2 0 0 0-4 0v6',
    'M10 10.5V6a2 2 0 0 0-4 0v8',
    'M18 8a2 2 0 1 1 4 0v6a8 8 0 0 1-8 8h-2c-2.8 0-4.5-.9-6-2.4l-3.6-3.6a2 2 0 0 1 2.8-2.8L7 15',
  ],
  sliders: ['M4 21v-7', 'M4 10V3', 'M12 21v-9', 'M12 8V3', 'M20 21v-5', 'M20 12V3', 'M1 14h6', 'M9 8h6', 'M17 16h6'],
  leave: ['M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4', 'M16 17l5-5-5-5', 'M21 12H9'],
  chat: ['M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z'],
  question: ['M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z', 'M9.1 9a3 3 0 0 1 5.8 1c0 2-3 3-3 3', 'M12 17h.01'],
  grid: ['M3 3h7v7H3z', 'M14 3h7v7h-7z', 'M14 14h7v7h-7z', 'M3 14h7v7H3z'],
  power: ['M18.4 6.6a9 9 0 1 1-12.8 0', 'M12 2v10'],
  x: ['M18 6 6 18', 'M6 6l12 12'],
  volume: ['M11 5 6 9H2v6h4l5 4V5z', 'M15.5 8.5a5 5 0 0 1 0 7', 'M19 5a10 10 0 0 1 0 14'],
  eyeOff: [
    'M17.9 17.9A10 10 0 0 1 12 20c-7 0-10-8-10-8a18 18 0 0 1 5.1-5.9',
    'M9.9 4.2A9 9 0 0 1 12 4c7 0 10 8 10 8a18 18 0 0 1-2.2 3.2',
    'M14.1 14.1a3 3 0 1 1-4.2-4.2',
    'M1 1l22 22',
  ],
  userMinus: ['M16 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2', 'M8.5 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M23 11h-6'],
  send: ['M22 2 11 13', 'M22 2l-7 20-4-9-9-4 20-7z'],
  list: ['M8 6h13', 'M8 12h13', 'M8 18h13', 'M3 6h.01', 'M3 12h.01', 'M3 18h.01'],
  minus: ['M5 12h14'],
  refresh: ['M23 4v6h-6', 'M20.5 15a9 9 0 1 1-2.1-9.4L23 10'],
  stage: ['M2 20h20', 'M5 20V10l7-6 7 6v10', 'M9 20v-5h6v5'],
  briefcase: ['M4 7h16a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z', 'M9 7V5a2 2 0 0 1 2-2h2a2 2 0 0 1 2 2v2', 'M3 13h18'],
  skipBack: ['M19 20 9 12l10-8v16z', 'M5 19V5'],
  skipForward: ['M5 4l10 8-10 8V4z', 'M19 5v14'],
  presentation: ['M2 3h20', 'M3 3v11a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V3', 'M12 16v5', 'M8 21h8', 'M8 11l3-3 2 2 3-3'],
  chevronLeft: ['M15 18l-6-6 6-6'],
  chevronRight: ['M9 18l6-6-6-6'],
  upload: ['M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4', 'M17 8l-5-5-5 5', 'M12 3v12'],
  film: ['M3 4h18a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z', 'M7 4v16', 'M17 4v16', 'M2 9h5', 'M2 15h5', 'M17 9h5', 'M17 15h5'],
};

export const ic = (name, cls = 'icon icon-sm') => icon(LI[name], cls);

/** The live room's API for one session: paths relative to /api/sessions/{id}/live. */
export function liveApi(id) {
  const base = `/api/sessions/${encodeURIComponent(id)}/live`;
  return {
    base,
    eventsUrl: `${base}/events`,
    get: (opts) => api.get(base, opts),
    post: (rest, body) => api.post(`${base}${rest}`, body),
    del: (rest) => api.del(`${base}${rest}`),
  };
}

/* ------------------------------------------------------------- Clock */

// Server time minus local time (ms), estimated from the HTTP Date header
// (1 s resolution): only applied when the local clock is clearly off.
let clockOffset = 0;

export function serverNow() {
  return Date.now() + clockOffset;
}

export async function syncClock() {
  try {
    const t0 = Date.now();
    const res = await fetch('/api/config', { cache: 'no-store', credentials: 'same-origin' });
    const t1 = Date.now();
    const date = Date.parse(res.headers.get('Date') || '');
    if (!Number.isNaN(date)) {
      const offset = date + 500 - (t0 + t1) / 2;
      clockOffset = Math.abs(offset) > 2000 ? offset : 0;
    }
  } catch {
    // keep the local clock
  }
}

export function ms(iso) {
  if (!iso) return NaN;
  return new Date(iso).getTime();
}

/** "0:42", "12:05", "1:02:03" for a duration in ms (never negative). */
export function clockText(msLeft) {
  const total = Math.max(0, Math.ceil(msLeft / 1000));
  const hh = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  const two = (n) => String(n).padStart(2, '0');
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

/** "just now", "1 min", "12 min", "1 h 5 min" for a duration in seconds. */
export function waitedText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 45) return 'just now';
  const m = Math.max(1, Math.round(s / 60));
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "in 3 days", "in 2 h 10 min", "in 12:04" for the waiting screen. */
export function untilText(msLeft) {
  if (msLeft <= 0) return 'now';
  const days = Math.floor(msLeft / 86400000);
  if (days >= 2) return `in ${days} days`;
  const hours = Math.floor(msLeft / 3600000);
  if (hours >= 1) return `in ${hours} h ${Math.floor((msLeft % 3600000) / 60000)} min`;
  return `in ${clockText(msLeft)}`;
}

/* --------------------------------------------- Tickers (live-updating text) */

/**
 * Refreshes the text of every element under `root` that carries one of:
 *   data-until="<epoch ms, server clock>"  → "m:ss" left
 *   data-since="<epoch ms, server clock>"  → "2 min" waited
 * Called once a second by the room.
 */
export function tick(root) {
  if (!root) return;
  const now = serverNow();
  for (const el of root.querySelectorAll('[data-until]')) {
    const text = clockText(Number(el.dataset.until) - now);
    if (el.textContent !== text) el.textContent = text;
  }
  for (const el of root.querySelectorAll('[data-since]')) {
    const text = waitedText((now - Number(el.dataset.since)) / 1000);
    if (el.textContent !== text) el.textContent = text;
  }
}

/* ------------------------------------------------- Focus-keeping redraws */

/**
 * Replace the children of `container`, keeping the focus on the element with
 * the same `data-key` (or id) when the focus was inside. Use stable data-key
 * values on interactive elements of redrawn lists.
 */
export function redraw(container, ...children) {
  const active = document.activeElement;
  let key = null;
  if (active && active !== document.body && container.contains(active)) {
    key = active.dataset.key ? `[data-key="${CSS.escape(active.dataset.key)}"]` : active.id ? `#${CSS.escape(active.id)}` : null;
  }
  replace(container, ...children);
  if (key) {
    const again = container.querySelector(key);
    if (again && typeof again.focus === 'function') again.focus({ preventScroll: true });
  }
}

/** Redraw only when `signature` changed since the last call for this container. */
export function redrawIf(container, signature, build) {
  if (container.dataset.sig === signature) return false;
  container.dataset.sig = signature;
  redraw(container, build());
  return true;
}

/* ------------------------------------------------------------ Widgets */

/** A switch (checkbox role=switch) in the style of the admin pages. */
export function switchControl({ id, label, checked, iconName }) {
  const input = h('input', { type: 'checkbox', role: 'switch', id, class: 'switch-input', checked: Boolean(checked) });
  const el = h(
    'label',
    { class: 'switch lr-switch', for: id },
    iconName ? ic(iconName) : null,
    h('span', { class: 'lr-switch-label' }, label),
    input,
    h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })),
  );
  return { el, input };
}

/**
 * A modal <dialog> with a title, body and action buttons. Closes on Escape;
 * removed from the page when closed; focus returns to where it was.
 * Returns { dialog, close }.
 */
export function modal({ id, title, body, actions, wide = false, onClose }) {
  const previous = document.activeElement;
  const titleId = `${id}-title`;
  const dialog = h(
    'dialog',
    { id, class: ['dialog', 'lr-dialog', wide && 'lr-dialog-wide'], 'aria-labelledby': titleId },
    h(
      'div',
      { class: 'lr-dialog-head' },
      h('h2', { class: 'dialog-title', id: titleId }, title),
      h(
        'button',
        { type: 'button', class: 'btn btn-ghost btn-icon lr-dialog-x', 'aria-label': 'Close', onclick: () => dialog.close() },
        ic('x'),
      ),
    ),
    h('div', { class: 'lr-dialog-body' }, body),
    actions ? h('div', { class: 'dialog-actions' }, actions) : null,
  );
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose();
    if (previous && previous.isConnected && typeof previous.focus === 'function') previous.focus();
  });
  document.body.append(dialog);
  if (typeof dialog.showModal === 'function') dialog.showModal();
  else dialog.setAttribute('open', '');
  return { dialog, close: () => dialog.open && dialog.close() };
}

/** Shows a short message in an inline error element (empty hides it). */
export function showError(el, message) {
  el.textContent = message || '';
  el.hidden = !message;
}
