// Shared building blocks for the session pages: labels, status and role
// badges, times in the viewer's zone (with the session's own zone named when
// it differs), wall-clock <-> UTC conversion for a given IANA zone, the
// in-page confirm dialog and a one-shot "flash" message that survives an
// in-app navigation.

import { h, icon, uniqueId, viewerTimeZone } from './dom.js';

export const ROLES = ['host', 'presenter', 'interviewer', 'guest'];

export const ROLE_LABELS = {
  host: 'Host',
  presenter: 'Presenter',
  interviewer: 'Interviewer',
  guest: 'Guest',
};

const ROLE_PLURALS = {
  host: 'Hosts',
  presenter: 'Presenters',
  interviewer: 'Interviewers',
  guest: 'Guests',
};

export const SESSION_STATUSES = ['draft', 'open', 'full', 'closed', 'in_progress', 'completed', 'cancelled'];

export const STATUS_LABELS = {
  draft: 'Draft',
  open: 'Open',
  full: 'Full',
  closed: 'Closed',
  in_progress: 'In progress',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

export const PARTICIPANT_STATUSES = ['registered', 'confirmed', 'attended', 'no_show', 'cancelled'];

export const PARTICIPANT_STATUS_LABELS = {
  registered: 'Registered',
  confirmed: 'Confirmed',
  attended: 'Attended',
  no_show: 'No show',
  cancelled: 'Cancelled',
};

export const ICONS = {
  calendar: ['M8 2v4', 'M16 2v4', 'M3 9h18', 'M5 4h14a2 2 0 0 1 2 2v13a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'],
  clock: ['M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z', 'M12 6v6l4 2'],
  globe: ['M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z', 'M2 12h20', 'M12 2a15 15 0 0 1 4 10 15 15 0 0 1-4 10 15 15 0 0 1-4-10 15 15 0 0 1 4-10z'],
  video: ['M23 7l-7 5 7 5V7z', 'M3 5h11a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z'],
  link: ['M10 13a5 5 0 0 0 7.5.5l3-3a5 5 0 0 0-7-7l-1.7 1.7', 'M14 11a5 5 0 0 0-7.5-.5l-3 3a5 5 0 0 0 7 7l1.7-1.7'],
  external: ['M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6', 'M15 3h6v6', 'M10 14 21 3'],
  users: ['M17 21v-2a4 4 0 0 0-4-4H7a4 4 0 0 0-4 4v2', 'M10 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M21 21v-2a4 4 0 0 0-3-3.9', 'M16 3.1a4 4 0 0 1 0 7.8'],
  arrowLeft: ['M19 12H5', 'M12 19l-7-7 7-7'],
  arrowRight: ['M5 12h14', 'M12 5l7 7-7 7'],
  up: ['M12 19V5', 'M5 12l7-7 7 7'],
  down: ['M12 5v14', 'M19 12l-7 7-7-7'],
  check: ['M20 6 9 17l-5-5'],
  info: ['M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z', 'M12 16v-4', 'M12 8h.01'],
  alert: ['M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z', 'M12 9v4', 'M12 17h.01'],
  plus: ['M12 5v14', 'M5 12h14'],
  edit: ['M12 20h9', 'M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z'],
  lock: ['M5 11h14a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2z', 'M7 11V7a5 5 0 0 1 10 0v4'],
};

/* --------------------------------------------------------------- Labels */

export function roleLabel(role) {
  return ROLE_LABELS[role] || String(role || '');
}

export function statusLabel(status) {
  return STATUS_LABELS[status] || String(status || '');
}

export function participantStatusLabel(status) {
  return PARTICIPANT_STATUS_LABELS[status] || String(status || '');
}

/** "1 host spot", "3 guest spots". */
export function spots(n, role) {
  return `${n} ${roleLabel(role).toLowerCase()} ${n === 1 ? 'spot' : 'spots'}`;
}

/** "Guests", "Host" (singular when the capacity is one). */
export function roleGroupLabel(role, capacity) {
  return capacity === 1 ? roleLabel(role) : ROLE_PLURALS[role] || roleLabel(role);
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/* --------------------------------------------------------------- Badges */

const KNOWN_STATUS = new Set(SESSION_STATUSES);
const KNOWN_ROLE = new Set(ROLES);
const KNOWN_PSTATUS = new Set(PARTICIPANT_STATUSES);

/** The session status pill (distinct colour per status). */
export function statusBadge(status, extra) {
  const known = KNOWN_STATUS.has(status) ? status : 'unknown';
  return h(
    'span',
    { class: ['badge badge-status', `status-${known}`, extra], dataset: { status } },
    known === 'in_progress' ? h('span', { class: 'badge-dot', 'aria-hidden': 'true' }) : null,
    statusLabel(status),
  );
}

/** A role pill: Host / Presenter / Interviewer / Guest. */
export function roleBadge(role, extra) {
  const known = KNOWN_ROLE.has(role) ? role : 'unknown';
  return h('span', { class: ['badge badge-role', `role-${known}`, extra], dataset: { role } }, roleLabel(role));
}

/** A participant's registration status pill. */
export function participantStatusBadge(status) {
  const known = KNOWN_PSTATUS.has(status) ? status : 'unknown';
  return h('span', { class: ['badge badge-pstatus', `pstatus-${known}`] }, participantStatusLabel(status));
}

export function youBadge() {
  return h('span', { class: 'badge badge-you' }, 'You');
}

/* ------------------------------------------------------ Capacity / slots */

function num(obj, key) {
  const v = obj && Number(obj[key]);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

export function capacityOf(session, role) {
  return num(session.capacity, role);
}

export function filledOf(session, role) {
  return num(session.filled, role);
}

export function waitingOf(session, role) {
  return num(session.waiting, role);
}

/** Places a newcomer can take now, as the server counts them (`open`). */
export function freeOf(session, role) {
  return num(session.open, role);
}

/** Places held for someone on the waitlist until their offer expires. */
export function heldOf(session, role) {
  return num(session.held, role);
}

export function totals(session) {
  let capacity = 0;
  let filled = 0;
  let held = 0;
  for (const r of ROLES) {
    capacity += capacityOf(session, r);
    filled += Math.min(filledOf(session, r), capacityOf(session, r));
    held += heldOf(session, r);
  }
  return { capacity, filled, held };
}

/** "1 of 2 spots taken", "· 1 held for the waitlist" when places are held. */
export function takenText(session) {
  const t = totals(session);
  if (!t.capacity) return '';
  const held = t.held ? ` · ${t.held} held for the waitlist` : '';
  return `${t.filled} of ${plural(t.capacity, 'spot', 'spots')} taken${held}`;
}

/** Roles the session offers at all (capacity > 0). */
export function offeredRoles(session) {
  return ROLES.filter((r) => capacityOf(session, r) > 0);
}

/**
 * What a card says about availability: "2 presenter spots · 3 guest spots",
 * "Waitlist" when full, or why registration isn't possible.
 */
export function availabilityText(session) {
  switch (session.status) {
    case 'full':
      return 'Waitlist';
    case 'closed':
      return 'Registration closed';
    case 'in_progress':
      return 'Happening now';
    case 'completed':
      return 'Ended';
    case 'cancelled':
      return 'Cancelled';
    case 'draft':
      return 'Not published';
    default: {
      const open = ROLES.filter((r) => freeOf(session, r) > 0).map((r) => spots(freeOf(session, r), r));
      return open.length ? open.join(' · ') : 'Waitlist';
    }
  }
}

/** Registering is possible (possibly onto a waitlist): the server's `registration_open`. */
export function acceptsRegistrations(session) {
  return session.registration_open === true;
}

/* ----------------------------------------------------------------- Time */

const formatters = new Map();

function formatter(locale, opts) {
  const key = `${locale || ''}|${JSON.stringify(opts)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, opts);
    formatters.set(key, f);
  }
  return f;
}

function toDate(iso) {
  if (!iso) return null;
  const d = iso instanceof Date ? iso : new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Is `tz` an IANA zone this browser knows? */
export function isValidTimeZone(tz) {
  if (!tz || typeof tz !== 'string') return false;
  try {
    formatter('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Format in the viewer's locale; `timeZone` defaults to the viewer's zone. */
function fmt(date, opts, timeZone) {
  const o = { ...opts };
  if (timeZone && isValidTimeZone(timeZone)) o.timeZone = timeZone;
  try {
    return formatter(undefined, o).format(date);
  } catch {
    return date.toString();
  }
}

const TIME = { hour: 'numeric', minute: '2-digit' };

/** YYYY-MM-DD of `date` in `timeZone` (viewer's zone when omitted). */
function dayKey(date, timeZone) {
  const p = wallParts(date.getTime(), timeZone || viewerTimeZone() || 'UTC');
  return p ? `${p.year}-${p.month}-${p.day}` : date.toDateString();
}

function dateLabel(date, timeZone) {
  const sameYear = dayKey(date, timeZone).slice(0, 4) === dayKey(new Date(), timeZone).slice(0, 4);
  return fmt(date, { weekday: 'short', day: 'numeric', month: 'short', year: sameYear ? undefined : 'numeric' }, timeZone);
}

/** The short zone name the viewer's locale uses, e.g. "CET" or "GMT+1". */
export function zoneAbbreviation(iso, timeZone) {
  const d = toDate(iso) || new Date();
  const o = { timeZoneName: 'short' };
  if (timeZone && isValidTimeZone(timeZone)) o.timeZone = timeZone;
  try {
    const part = formatter(undefined, o)
      .formatToParts(d)
      .find((p) => p.type === 'timeZoneName');
    return part ? part.value : '';
  } catch {
    return '';
  }
}

/** "18:00" (or "6:00 PM") in the viewer's zone. */
export function formatTime(iso, timeZone) {
  const d = toDate(iso);
  return d ? fmt(d, TIME, timeZone) : '';
}

/** "Tue 1 Dec, 18:00 CET": date, time and zone name in the viewer's zone. */
export function formatDateTime(iso) {
  const d = toDate(iso);
  if (!d) return '';
  const zone = zoneAbbreviation(d);
  return `${dateLabel(d)}, ${fmt(d, TIME)}${zone ? ` ${zone}` : ''}`;
}

/** "Tue 1 Dec" in the viewer's zone. */
export function formatDay(iso) {
  const d = toDate(iso);
  return d ? dateLabel(d) : '';
}

/**
 * The when-line of a session in the viewer's zone:
 *   "Tue 1 Dec, 18:00–18:45 CET"
 * and, when the session's own zone differs from the viewer's, a note like
 *   "18:00 in Europe/Berlin" (with the day when it differs there).
 */
export function sessionWhen(session) {
  const start = toDate(session.starts_at);
  if (!start) return { text: 'Time to be announced', note: null, zone: '' };
  let end = toDate(session.ends_at);
  if (!end && Number(session.duration_minutes) > 0) {
    end = new Date(start.getTime() + Number(session.duration_minutes) * 60000);
  }
  const zone = zoneAbbreviation(start);
  let text = `${dateLabel(start)}, ${fmt(start, TIME)}`;
  if (end) {
    const sameDay = dayKey(start) === dayKey(end);
    text += sameDay ? `–${fmt(end, TIME)}` : ` – ${dateLabel(end)}, ${fmt(end, TIME)}`;
  }
  if (zone) text += ` ${zone}`;

  let note = null;
  const viewer = viewerTimeZone();
  const tz = session.time_zone;
  if (tz && viewer && tz !== viewer && isValidTimeZone(tz)) {
    const there = fmt(start, TIME, tz);
    const otherDay = dayKey(start, tz) !== dayKey(start);
    note = `${otherDay ? `${fmt(start, { weekday: 'short' }, tz)} ` : ''}${there} in ${tz}`;
  }
  return { text, note, zone };
}

/** The when-line as elements: a <time> plus the zone note when there is one. */
export function whenBlock(session, { cls = 'when' } = {}) {
  const w = sessionWhen(session);
  return h(
    'div',
    { class: cls },
    h('time', { class: 'when-main', datetime: session.starts_at || null }, w.text),
    w.note ? h('span', { class: 'when-note' }, icon(ICONS.globe, 'icon icon-xs'), w.note) : null,
  );
}

/** "45 min", "1 h 30 min". */
export function formatDuration(minutes) {
  const m = Math.round(Number(minutes) || 0);
  if (m < 60) return `${m} min`;
  const hh = Math.floor(m / 60);
  const rest = m % 60;
  return rest ? `${hh} h ${rest} min` : `${hh} h`;
}

/** Parts for a calendar chip: { month: "Dec", day: "1", weekday: "Tue" }. */
export function dateChipParts(iso) {
  const d = toDate(iso);
  if (!d) return null;
  return {
    month: fmt(d, { month: 'short' }),
    day: fmt(d, { day: 'numeric' }),
    weekday: fmt(d, { weekday: 'short' }),
  };
}

export function dateChip(iso, extra) {
  const p = dateChipParts(iso);
  if (!p) return null;
  return h(
    'span',
    { class: ['date-chip', extra], 'aria-hidden': 'true' },
    h('span', { class: 'date-chip-month' }, p.month),
    h('span', { class: 'date-chip-day' }, p.day),
    h('span', { class: 'date-chip-weekday' }, p.weekday),
  );
}

/* ------------------------------------------- Wall clock <-> UTC in a zone */

const partsFormatters = new Map();

function partsFormatter(tz) {
  let f = partsFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    partsFormatters.set(tz, f);
  }
  return f;
}

/** The wall-clock fields of the instant `ms` in `tz` (strings, zero-padded). */
function wallParts(ms, tz) {
  let f;
  try {
    f = partsFormatter(tz);
  } catch {
    return null;
  }
  const p = {};
  for (const { type, value } of f.formatToParts(new Date(ms))) p[type] = value;
  if (p.hour === '24') p.hour = '00';
  return p;
}

/** Offset of `tz` from UTC at the instant `ms`, in milliseconds (east positive). */
export function zoneOffsetMs(tz, ms) {
  const whole = Math.floor(ms / 1000) * 1000;
  const p = wallParts(whole, tz);
  if (!p) return 0;
  const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return asUtc - whole;
}

/**
 * Convert a wall-clock date ("2026-12-01") and time ("18:00") in the IANA
 * zone `tz` to an instant. Handles daylight saving time:
 * - a time that happens twice (clocks go back) resolves to the earlier one;
 * - a time that does not exist (clocks go forward) moves forward by the gap,
 *   like Temporal's "compatible" disambiguation (02:30 -> 03:30).
 * Returns { date, ambiguous, skipped } or null for malformed input.
 */
export function zonedToUtc(dateStr, timeStr, tz) {
  const dm = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(dateStr || ''));
  const tm = /^(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(String(timeStr || ''));
  if (!dm || !tm || !isValidTimeZone(tz)) return null;
  const [y, mo, d] = [Number(dm[1]), Number(dm[2]), Number(dm[3])];
  const [hh, mi] = [Number(tm[1]), Number(tm[2])];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mi > 59) return null;
  const wall = Date.UTC(y, mo - 1, d, hh, mi);
  // The date must exist (Date.UTC silently rolls 31 Feb over to March).
  const check = new Date(wall);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return null;

  const DAY = 86400000;
  const before = zoneOffsetMs(tz, wall - DAY);
  const after = zoneOffsetMs(tz, wall + DAY);
  const candidates = [...new Set([wall - before, wall - after])]
    .filter((t) => t + zoneOffsetMs(tz, t) === wall)
    .sort((a, b) => a - b);
  if (candidates.length) {
    return { date: new Date(candidates[0]), ambiguous: candidates.length > 1, skipped: false };
  }
  // In a gap: read the wall time with the offset from before the change.
  return { date: new Date(wall - before), ambiguous: false, skipped: true };
}

/** The wall-clock date ("YYYY-MM-DD") and time ("HH:MM") of `iso` in `tz`. */
export function utcToZoned(iso, tz) {
  const d = toDate(iso);
  if (!d || !isValidTimeZone(tz)) return null;
  const p = wallParts(d.getTime(), tz);
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}` };
}

/** RFC 3339 UTC without milliseconds: "2026-12-01T17:00:00Z". */
export function toRfc3339(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const COMMON_ZONES = [
  'UTC',
  'Europe/London',
  'Europe/Dublin',
  'Europe/Lisbon',
  'Europe/Paris',
  'Europe/Berlin',
  'Europe/Amsterdam',
  'Europe/Madrid',
  'Europe/Rome',
  'Europe/Stockholm',
  'Europe/Warsaw',
  'Europe/Athens',
  'Europe/Helsinki',
  'Europe/Istanbul',
  'Europe/Kyiv',
  'Europe/Moscow',
  'Africa/Lagos',
  'Africa/Cairo',
  'Africa/Nairobi',
  'Africa/Johannesburg',
  'Asia/Dubai',
  'Asia/Karachi',
  'Asia/Kolkata',
  'Asia/Dhaka',
  'Asia/Bangkok',
  'Asia/Jakarta',
  'Asia/Singapore',
  'Asia/Shanghai',
  'Asia/Hong_Kong',
  'Asia/Tokyo',
  'Asia/Seoul',
  'Australia/Perth',
  'Australia/Brisbane',
  'Australia/Sydney',
  'Pacific/Auckland',
  'America/St_Johns',
  'America/Halifax',
  'America/Sao_Paulo',
  'America/Argentina/Buenos_Aires',
  'America/New_York',
  'America/Toronto',
  'America/Chicago',
  'America/Mexico_City',
  'America/Denver',
  'America/Phoenix',
  'America/Los_Angeles',
  'America/Vancouver',
  'America/Anchorage',
  'Pacific/Honolulu',
];

/** Time zones for a datalist: the common ones first, then every other zone the browser knows. */
export function timeZoneList(extra = []) {
  const seen = new Set();
  const out = [];
  const add = (z) => {
    if (z && !seen.has(z) && isValidTimeZone(z)) {
      seen.add(z);
      out.push(z);
    }
  };
  extra.forEach(add);
  COMMON_ZONES.forEach(add);
  try {
    if (typeof Intl.supportedValuesOf === 'function') Intl.supportedValuesOf('timeZone').forEach(add);
  } catch {
    // Older browsers: the common list is enough.
  }
  return out;
}

/* --------------------------------------------------------------- Links */

/** The URL when it is a plain http(s) link, else null (never javascript: etc.). */
export function safeHttpUrl(value) {
  if (!value || typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

export function sessionPath(id) {
  return `/sessions/${encodeURIComponent(id)}`;
}

export function adminSessionPath(id) {
  return `/admin/sessions/${encodeURIComponent(id)}`;
}

export function apiSessionPath(id, rest = '') {
  return `/api/sessions/${encodeURIComponent(id)}${rest}`;
}

/* ------------------------------------------------------- Confirm dialog */

let openDialog = null;

/**
 * An in-page confirmation (a modal <dialog>, not window.confirm). Resolves
 * true when the user presses the confirm button (#confirm-yes), false on
 * #confirm-no, Escape or a click outside. Focus returns to where it was.
 *   title, message (string or nodes), confirmLabel, cancelLabel, danger
 */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', cancelLabel = 'Cancel', danger = false }) {
  if (openDialog) openDialog.close();
  const previous = document.activeElement;
  const titleId = uniqueId('confirm-title');
  const messageId = uniqueId('confirm-message');

  return new Promise((resolve) => {
    let result = false;
    const yes = h(
      'button',
      { type: 'button', id: 'confirm-yes', class: ['btn', danger ? 'btn-danger' : 'btn-primary'] },
      confirmLabel,
    );
    const no = h('button', { type: 'button', id: 'confirm-no', class: 'btn btn-secondary' }, cancelLabel);
    const dialog = h(
      'dialog',
      {
        id: 'confirm-dialog',
        class: ['dialog', danger && 'dialog-danger'],
        'aria-labelledby': titleId,
        'aria-describedby': messageId,
      },
      h(
        'div',
        { class: 'dialog-body' },
        danger ? h('div', { class: 'dialog-icon', 'aria-hidden': 'true' }, icon(ICONS.alert)) : null,
        h(
          'div',
          { class: 'dialog-text' },
          h('h2', { class: 'dialog-title', id: titleId }, title),
          h('div', { class: 'dialog-message', id: messageId }, [].concat(message).map((m) => (typeof m === 'string' ? h('p', null, m) : m))),
        ),
      ),
      h('div', { class: 'dialog-actions' }, no, yes),
    );

    yes.addEventListener('click', () => {
      result = true;
      dialog.close();
    });
    no.addEventListener('click', () => dialog.close());
    // A click on the backdrop (the dialog element itself, outside its box) cancels.
    dialog.addEventListener('click', (event) => {
      if (event.target !== dialog) return;
      const r = dialog.getBoundingClientRect();
      const inside = event.clientX >= r.left && event.clientX <= r.right && event.clientY >= r.top && event.clientY <= r.bottom;
      if (!inside) dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (openDialog === dialog) openDialog = null;
      if (previous && previous.isConnected && typeof previous.focus === 'function') previous.focus();
      resolve(result);
    });

    document.body.append(dialog);
    openDialog = dialog;
    if (typeof dialog.showModal === 'function') dialog.showModal();
    else dialog.setAttribute('open', '');
    (danger ? no : yes).focus();
  });
}

/* ---------------------------------------------------------------- Flash */

let flash = null;

/** Keep a message to show on the next page that asks for it (after navigate). */
export function setFlash(message, key = '') {
  flash = { message, key };
}

/** Take the pending message if it was meant for `key`. */
export function takeFlash(key = '') {
  if (!flash || flash.key !== key) return null;
  const { message } = flash;
  flash = null;
  return message;
}

/* ------------------------------------------------------------- States */

/** A centred card for "not found" / errors on session pages. */
export function stateCard({ title, text, actions = [], code, alert = false }) {
  return h(
    'div',
    { class: 'container narrow' },
    h(
      'div',
      { class: 'card state-card' },
      code ? h('p', { class: 'state-code', 'aria-hidden': 'true' }, code) : null,
      h('h1', { class: 'state-title' }, title),
      alert
        ? h('p', { id: 'form-error', class: 'form-error', role: 'alert' }, text)
        : h('p', { class: 'muted' }, text),
      actions.length ? h('div', { class: 'actions' }, actions) : null,
    ),
  );
}

/** The empty-state box used across the session pages. */
export function emptyState({ id, iconPaths = ICONS.calendar, title, text, action }) {
  return h(
    'div',
    { class: 'empty-state', id },
    h('div', { class: 'empty-icon' }, icon(iconPaths, 'icon icon-lg')),
    h('h3', { class: 'empty-title' }, title),
    text ? h('p', { class: 'empty-text' }, text) : null,
    action,
  );
}
