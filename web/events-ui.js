// Shared building blocks of the career-fair pages (events, companies, slots):
// paths, labels for formats / job kinds / event statuses, the company logo
// (or its initials), an event's date range, the "event · company" tag shown
// on session cards, a signed-in guard and API-error-to-field mapping for
// errors whose `field` names a nested input (e.g. "windows[2].ends").
//
// Nothing here decides a rule: open spots, whether registration is open,
// who may edit or book, which slots exist all come from the server.

import { h, initials, replace } from './dom.js';
import { ApiError } from './api.js';
import { getState, loadMe } from './state.js';
import { formatTime, stateCard } from './sessions-ui.js';

export const FORMATS = ['workshop', 'presentation', 'coffee_chat'];
export const FORMAT_LABELS = { workshop: 'Workshop', presentation: 'Presentation', coffee_chat: 'Coffee chat' };

export const JOB_KINDS = ['full_time', 'part_time', 'internship', 'working_student', 'graduate'];
export const JOB_KIND_LABELS = {
  full_time: 'Full-time',
  part_time: 'Part-time',
  internship: 'Internship',
  working_student: 'Working student',
  graduate: 'Graduate programme',
};

export const EVENT_STATUS_LABELS = { draft: 'Draft', published: 'Published', ended: 'Ended' };

export function formatLabel(format) {
  return FORMAT_LABELS[format] || String(format || '');
}

export function jobKindLabel(kind) {
  return JOB_KIND_LABELS[kind] || String(kind || '');
}

export function eventPath(id, view) {
  const base = `/events/${encodeURIComponent(id)}`;
  return view && view !== 'program' ? `${base}?view=${view}` : base;
}

export function companyPath(eventId, companyId, rest = '') {
  return `/events/${encodeURIComponent(eventId)}/companies/${encodeURIComponent(companyId)}${rest}`;
}

export function adminEventPath(id) {
  return `/admin/events/${encodeURIComponent(id)}`;
}

export function formatBadge(format) {
  const known = FORMATS.includes(format) ? format : 'unknown';
  return h('span', { class: ['badge badge-format', `format-${known}`] }, formatLabel(format));
}

export function eventStatusBadge(status) {
  return h('span', { class: ['badge badge-event', `event-${status}`], dataset: { status } }, EVENT_STATUS_LABELS[status] || status);
}

/** The company's logo, or its initials on a tinted square when it has none. */
export function companyLogo(company, size = 'md') {
  const name = (company && company.name) || '';
  if (company && company.logo_url) {
    return h('img', { class: ['co-logo', `co-logo-${size}`], src: company.logo_url, alt: '', loading: 'lazy', decoding: 'async' });
  }
  return h('span', { class: ['co-logo', `co-logo-${size}`, 'co-logo-initials'], 'aria-hidden': 'true' }, initials(name));
}

/** "Thu 10 – Fri 11 Dec 2026" from the event's civil dates (shown as written, no zone shift). */
export function eventDates(event) {
  const parse = (d) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(d || ''));
    return m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 12)) : null;
  };
  const a = parse(event.first_day);
  const b = parse(event.last_day);
  if (!a) return '';
  const f = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
  if (!b || event.first_day === event.last_day) return f.format(a);
  return typeof f.formatRange === 'function' ? f.formatRange(a, b) : `${f.format(a)} – ${f.format(b)}`;
}

/** A civil day "2026-12-10" as "Thursday, 10 December". */
export function dayHeading(day) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(day || ''));
  if (!m) return String(day || '');
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 12));
  return new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', weekday: 'long', day: 'numeric', month: 'long' }).format(d);
}

/** "09:00–09:30" of a session in the viewer's zone. */
export function timeRange(session) {
  const start = formatTime(session.starts_at);
  const end = session.ends_at ? formatTime(session.ends_at) : '';
  return end ? `${start}–${end}` : start;
}

/** The "Winter Career Fair · Acme Robotics" line of an event session (nothing for community sessions). */
export function eventTag(session, { cls = 'event-tag' } = {}) {
  const ev = session && session.event;
  if (!ev) return null;
  const co = ev.company || null;
  return h(
    'span',
    { class: cls },
    co ? companyLogo(co, 'xs') : null,
    co ? h('a', { href: companyPath(ev.id, co.id), class: 'event-tag-company' }, co.name) : null,
    co ? h('span', { class: 'event-tag-sep', 'aria-hidden': 'true' }, '·') : null,
    h('a', { href: eventPath(ev.id), class: 'event-tag-event' }, ev.name),
    ev.format ? formatBadge(ev.format) : null,
  );
}

/** The signed-in member, or null after redirecting to sign in (or showing why not). */
export async function requireMember(ctx) {
  let { me, meError } = getState();
  if (!me && meError) {
    me = await loadMe();
    if (!ctx.isCurrent()) return null;
    meError = getState().meError;
    if (meError) {
      replace(ctx.root, stateCard({ title: 'Couldn’t check your account', text: meError.message, alert: true }));
      return null;
    }
  }
  if (!me) {
    ctx.redirect(`/signin?next=${encodeURIComponent(ctx.path + window.location.search)}`);
    return null;
  }
  return me;
}

/** A load failure as a card: 404 says the thing is gone, others offer a retry. */
export function loadFailed(ctx, err, what) {
  if (err && err.status === 401) {
    ctx.redirect(`/signin?next=${encodeURIComponent(ctx.path + window.location.search)}`);
    return;
  }
  ctx.setTitle(err && err.status === 404 ? 'Not found' : 'Error');
  replace(
    ctx.root,
    err && err.status === 404
      ? stateCard({
          code: '404',
          title: `${what} not found`,
          text: `This ${what.toLowerCase()} does not exist or is not visible to you.`,
          actions: [h('a', { href: '/events', class: 'btn btn-primary' }, 'All events')],
        })
      : stateCard({
          title: `Couldn’t load this ${what.toLowerCase()}`,
          text: err ? err.message : '',
          alert: true,
          actions: [h('button', { type: 'button', class: 'btn btn-primary', onclick: () => ctx.redirect(ctx.path + window.location.search) }, 'Try again')],
        }),
  );
}

/**
 * Show an API error: in `errorEl`, and beside the input registered under
 * its `field` in `fields` (a map of field name -> {setError, input}); for
 * nested names ("jobs[1].url") the exact key is tried first, then the
 * prefix before the first dot or bracket.
 */
export function showApiError(err, { fields = {}, errorEl }) {
  if (err && err.name === 'AbortError') return;
  if (!(err instanceof ApiError)) console.error(err);
  const message = err instanceof ApiError ? err.message : 'Something went wrong. Please try again.';
  if (errorEl) errorEl.replaceChildren(message);
  if (err && err.field) {
    const key = [err.field, err.field.split(/[.[]/)[0]].find((k) => fields[k]);
    const target = key ? fields[key] : null;
    if (target) {
      target.setError(message);
      if (target.input && typeof target.input.focus === 'function') target.input.focus();
    }
  }
}

/** A small inline error slot for a repeated-row editor input: {el, input, setError, clear}. */
export function rowError(input) {
  const el = h('p', { class: 'field-error', hidden: true, role: 'alert' });
  return {
    el,
    input,
    setError(message) {
      el.replaceChildren(message);
      el.hidden = false;
      input.setAttribute('aria-invalid', 'true');
    },
    clearError() {
      el.hidden = true;
      el.replaceChildren();
      input.removeAttribute('aria-invalid');
    },
  };
}
