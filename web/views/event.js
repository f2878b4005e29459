// One event (/events/{id}) with three views as tabs, addressed by ?view=:
//   Program   (default) every session by day and time, filters by company
//             and format (?company=, ?format=), open spots, one-click
//             Register / Join waitlist / Cancel, Join when live.
//   Lobby     (?view=lobby) live now (thumbnails refreshed every 10 s, Join),
//             starting next, recently ended.
//   Companies (?view=companies) the companies as cards with their logos.
// The viewer's own registrations come from /api/me/schedule; spots, status,
// registration_open and live_now are the server's.
// Ids: #event-title, #event-tab-{program|lobby|companies}, #program-company,
// #program-format, #program-list, li[data-session-id] with #register-{id},
// #cancel-{id}, #leave-{id}, #join-{id}; #lobby-live, #lobby-next,
// #lobby-ended; #company-grid.

import { h, icon, replace } from '../dom.js';
import { api } from '../api.js';
import { ICONS, apiSessionPath, confirmDialog, emptyState, formatDay, formatTime, plural, sessionPath, statusBadge } from '../sessions-ui.js';
import {
  FORMATS,
  adminEventPath,
  companyLogo,
  companyPath,
  dayHeading,
  eventDates,
  eventPath,
  eventStatusBadge,
  formatBadge,
  formatLabel,
  loadFailed,
  requireMember,
  timeRange,
} from '../events-ui.js';

const VIEWS = [
  { id: 'program', label: 'Program' },
  { id: 'lobby', label: 'Lobby' },
  { id: 'companies', label: 'Companies' },
];

const LOBBY_REFRESH_MS = 10000;

export default async function render(ctx) {
  const me = await requireMember(ctx);
  if (!me) return;
  const id = ctx.params.id;
  let data;
  try {
    data = await api.get(`/api/events/${encodeURIComponent(id)}`, { signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    loadFailed(ctx, err, 'Event');
    return;
  }
  if (!ctx.isCurrent()) return;
  const { event } = data;
  const companies = data.companies || [];
  const view = VIEWS.find((v) => v.id === ctx.query.get('view')) || VIEWS[0];
  ctx.setTitle(view.id === 'program' ? event.name : `${view.label} · ${event.name}`);

  const body = h('div', { class: 'event-view', id: `event-view-${view.id}` });
  ctx.root.append(
    h(
      'div',
      { class: 'container event-page' },
      h('a', { href: '/events', class: 'back-link' }, icon(ICONS.arrowLeft, 'icon icon-sm'), 'All events'),
      eventHead(event, companies),
      h(
        'nav',
        { class: 'tabs', 'aria-label': 'Event views' },
        VIEWS.map((v) =>
          h('a', { href: eventPath(event.id, v.id), class: 'tab', id: `event-tab-${v.id}`, 'aria-current': v === view ? 'page' : null }, v.label),
        ),
      ),
      body,
    ),
  );

  if (view.id === 'lobby') return renderLobby(ctx, event, body);
  if (view.id === 'companies') return renderCompanies(event, companies, body);
  return renderProgram(ctx, event, companies, body);
}

function eventHead(event, companies) {
  const can = event.can || {};
  const mine = companies.filter((c) => (can.speaker_of || []).includes(c.id));
  const counts = event.counts || {};
  return h(
    'header',
    { class: 'event-head' },
    h(
      'div',
      { class: 'event-head-text' },
      h('div', { class: 'badges' }, event.status !== 'published' ? eventStatusBadge(event.status) : null),
      h('h1', { class: 'page-title', id: 'event-title' }, event.name),
      h(
        'p',
        { class: 'event-head-meta' },
        h('span', null, icon(ICONS.calendar, 'icon icon-sm'), eventDates(event)),
        h('span', null, icon(ICONS.globe, 'icon icon-sm'), event.time_zone),
        h('span', null, icon(ICONS.users, 'icon icon-sm'), plural(counts.companies || 0, 'company', 'companies'), ' · ', plural(counts.sessions || 0, 'session', 'sessions')),
      ),
      event.description ? h('p', { class: 'event-head-desc pre-line' }, event.description) : null,
      event.status === 'draft'
        ? h('p', { class: 'banner banner-info event-state-note', id: 'event-draft-note' }, icon(ICONS.lock, 'icon icon-sm'), h('span', null, 'Draft: only organizers and the companies’ speakers see this event until it is published.'))
        : null,
      event.status === 'ended'
        ? h('p', { class: 'banner banner-info event-state-note', id: 'event-ended-note' }, icon(ICONS.info, 'icon icon-sm'), h('span', null, 'This event has ended. The program stays here for reference.'))
        : null,
    ),
    h(
      'div',
      { class: 'event-head-actions' },
      mine.map((c) =>
        c.can && c.can.book
          ? h('a', { href: companyPath(event.id, c.id, '/book'), class: 'btn btn-primary btn-sm', id: `book-${c.id}` }, icon(ICONS.plus, 'icon icon-sm'), `Book a session for ${c.name}`)
          : null,
      ),
      can.manage ? h('a', { href: adminEventPath(event.id), class: 'btn btn-secondary btn-sm', id: 'manage-event' }, icon(ICONS.edit, 'icon icon-sm'), 'Manage event') : null,
    ),
  );
}

/* -------------------------------------------------------------- Program */

export async function loadMine(signal) {
  const data = await api.get('/api/me/schedule', { signal });
  const mine = new Map();
  for (const e of [...(data.upcoming || []), ...(data.past || [])]) if (e.session) mine.set(e.session.id, e);
  return mine;
}

async function renderProgram(ctx, event, companies, body) {
  const companySelect = h(
    'select',
    { class: 'input select input-sm', id: 'program-company', 'aria-label': 'Filter by company' },
    h('option', { value: '' }, 'All companies'),
    companies.map((c) => h('option', { value: String(c.id) }, c.name)),
  );
  const formatSelect = h(
    'select',
    { class: 'input select input-sm', id: 'program-format', 'aria-label': 'Filter by format' },
    h('option', { value: '' }, 'All formats'),
    FORMATS.map((f) => h('option', { value: f }, formatLabel(f))),
  );
  companySelect.value = ctx.query.get('company') || '';
  formatSelect.value = ctx.query.get('format') || '';
  const status = h('div', { class: 'form-status', role: 'status', id: 'program-status' });
  const errorEl = h('div', { class: 'form-error', role: 'alert', id: 'form-error' });
  const list = h('div', { class: 'program-body', 'aria-live': 'polite' }, h('p', { class: 'muted loading' }, 'Loading the program…'));
  replace(
    body,
    h(
      'div',
      { class: 'program-tools' },
      h('label', { class: 'program-filter' }, h('span', { class: 'small muted' }, 'Company'), companySelect),
      h('label', { class: 'program-filter' }, h('span', { class: 'small muted' }, 'Format'), formatSelect),
      h('p', { class: 'small muted program-zone' }, 'Times in your time zone.'),
    ),
    errorEl,
    status,
    list,
  );

  let busy = false;
  async function load() {
    const q = new URLSearchParams();
    if (companySelect.value) q.set('company', companySelect.value);
    if (formatSelect.value) q.set('format', formatSelect.value);
    const qs = q.toString();
    const [program, mine] = await Promise.all([
      api.get(`/api/events/${encodeURIComponent(event.id)}/program${qs ? `?${qs}` : ''}`, { signal: ctx.signal }),
      loadMine(ctx.signal),
    ]);
    if (!ctx.isCurrent()) return;
    drawProgram(list, program.days || [], mine, { filtered: Boolean(qs), act });
  }

  async function act(button, work, done) {
    if (busy) return;
    busy = true;
    errorEl.replaceChildren();
    status.replaceChildren();
    button.disabled = true;
    try {
      const message = await work();
      await load();
      if (message) status.replaceChildren(message);
      if (done) done();
    } catch (err) {
      if (err.name === 'AbortError') return;
      errorEl.replaceChildren(err.message);
      button.disabled = false;
    } finally {
      busy = false;
    }
  }

  async function onFilter() {
    const url = new URL(window.location.href);
    for (const [k, sel] of [['company', companySelect], ['format', formatSelect]]) {
      if (sel.value) url.searchParams.set(k, sel.value);
      else url.searchParams.delete(k);
    }
    window.history.replaceState(null, '', url.pathname + url.search);
    try {
      await load();
    } catch (err) {
      if (err.name !== 'AbortError') errorEl.replaceChildren(err.message);
    }
  }
  companySelect.addEventListener('change', onFilter);
  formatSelect.addEventListener('change', onFilter);

  try {
    await load();
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    replace(list, h('p', { class: 'inline-error', role: 'alert' }, `Couldn’t load the program. ${err.message}`));
  }
}

function drawProgram(list, days, mine, { filtered, act }) {
  const withSessions = days.filter((d) => (d.sessions || []).length);
  if (!withSessions.length) {
    replace(
      list,
      emptyState({
        id: 'program-empty',
        title: filtered ? 'No sessions match' : 'No sessions yet',
        text: filtered ? 'Try another company or format.' : 'Companies are still booking their slots. Check back soon.',
      }),
    );
    return;
  }
  replace(
    list,
    h(
      'div',
      { id: 'program-list' },
      withSessions.map((d) =>
        h(
          'section',
          { class: 'program-day', 'aria-labelledby': `day-${d.day}` },
          h('h2', { class: 'program-day-title', id: `day-${d.day}` }, dayHeading(d.day)),
          h('ul', { class: 'program-list' }, d.sessions.map((s) => programItem(s, mine.get(s.id), act))),
        ),
      ),
    ),
  );
}

function spotsLine(session) {
  const cap = Number(session.capacity && session.capacity.guest) || 0;
  const open = Number(session.open && session.open.guest) || 0;
  const waiting = Number(session.waiting && session.waiting.guest) || 0;
  if (session.status === 'completed') return 'Ended';
  if (session.status === 'cancelled') return 'Cancelled';
  if (!cap) return '';
  if (open > 0) return `${plural(open, 'spot', 'spots')} open of ${cap}`;
  return waiting ? `Full · ${waiting} waiting` : 'Full · waitlist';
}

export function programItem(session, entry, act, { withDay = false } = {}) {
  const ev = session.event || {};
  const co = ev.company || null;
  const key = session.id;
  const open = Number(session.open && session.open.guest) || 0;
  const host = entry && entry.role === 'host';
  const waiting = entry && entry.waitlist_position != null;
  const registered = entry && !waiting && entry.status && entry.status !== 'cancelled';

  const actions = [];
  if (session.live_now) {
    actions.push(
      h(
        'a',
        { href: `${sessionPath(key)}/live`, class: 'btn btn-primary btn-sm', id: `join-${key}` },
        h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
        'Join',
        h('span', { class: 'visually-hidden' }, ` “${session.title}”`),
      ),
    );
  }
  if (host) {
    actions.push(h('span', { class: 'badge badge-role role-host' }, 'You host'));
  } else if (waiting) {
    const offer = entry.offer_expires_at;
    actions.push(h('span', { class: 'badge badge-waitlist', id: `waitlisted-${key}` }, `Waitlist · #${entry.waitlist_position}`));
    if (offer) {
      const claim = h('button', { type: 'button', class: 'btn btn-primary btn-sm', id: `claim-${key}` }, 'Claim spot');
      claim.addEventListener('click', () => act(claim, async () => {
        await api.post(apiSessionPath(key, '/waitlist/accept'), {});
        return `You’re registered for “${session.title}”.`;
      }));
      actions.push(claim);
    }
    const leave = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', id: `leave-${key}` }, 'Leave waitlist');
    leave.addEventListener('click', () => act(leave, async () => {
      await api.del(apiSessionPath(key, '/waitlist/me'));
      return `You left the waitlist of “${session.title}”.`;
    }));
    actions.push(leave);
  } else if (registered) {
    actions.push(h('span', { class: 'badge badge-pstatus pstatus-registered', id: `registered-${key}` }, icon(ICONS.check, 'icon icon-xs'), 'Registered'));
    if (!session.live_now && session.status !== 'completed' && session.status !== 'in_progress') {
      const cancel = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', id: `cancel-${key}` }, 'Cancel');
      cancel.addEventListener('click', async () => {
        const ok = await confirmDialog({
          title: 'Cancel your registration?',
          message: `Your spot in “${session.title}” goes to the next person on the waitlist.`,
          confirmLabel: 'Cancel registration',
          cancelLabel: 'Keep my spot',
          danger: true,
        });
        if (ok) act(cancel, async () => {
          await api.del(apiSessionPath(key, '/registrations/me'));
          return `Your registration for “${session.title}” is cancelled.`;
        });
      });
      actions.push(cancel);
    }
  } else if (session.registration_open) {
    const label = open > 0 ? 'Register' : 'Join waitlist';
    const reg = h(
      'button',
      { type: 'button', class: ['btn btn-sm', open > 0 ? 'btn-primary' : 'btn-secondary'], id: `register-${key}` },
      label,
      h('span', { class: 'visually-hidden' }, ` for “${session.title}”`),
    );
    reg.addEventListener('click', () => act(reg, async () => {
      const res = await api.post(apiSessionPath(key, '/registrations'), {});
      return res && res.waitlisted
        ? `The session is full: you’re #${res.position} on the waitlist for “${session.title}”.`
        : `You’re registered for “${session.title}”. It’s in My schedule, and a confirmation email is on its way.`;
    }));
    actions.push(reg);
  }

  return h(
    'li',
    { class: ['program-item', `is-${session.status}`, session.live_now && 'is-live'], dataset: { sessionId: key } },
    h(
      'div',
      { class: 'program-time' },
      withDay ? h('span', { class: 'program-date' }, formatDay(session.starts_at)) : null,
      h('time', { datetime: session.starts_at }, formatTime(session.starts_at)),
      session.ends_at ? h('span', { class: 'program-end' }, `to ${formatTime(session.ends_at)}`) : null,
    ),
    h(
      'div',
      { class: 'program-main' },
      h(
        'div',
        { class: 'program-badges badges' },
        ev.format ? formatBadge(ev.format) : null,
        session.live_now ? h('span', { class: 'badge badge-live' }, h('span', { class: 'badge-dot', 'aria-hidden': 'true' }), 'Live now') : null,
        session.status !== 'open' && !session.live_now ? statusBadge(session.status) : null,
      ),
      h('h3', { class: 'program-title' }, h('a', { href: sessionPath(key) }, session.title)),
      co
        ? h(
            'a',
            { href: companyPath(ev.id, co.id), class: 'program-company' },
            companyLogo(co, 'xs'),
            h('span', null, co.name),
          )
        : null,
    ),
    h(
      'div',
      { class: 'program-side' },
      h('span', { class: ['program-spots', open > 0 && 'has-spots'], id: `spots-${key}` }, icon(ICONS.users, 'icon icon-sm'), spotsLine(session)),
      h('div', { class: 'program-actions' }, actions),
    ),
  );
}

/* ---------------------------------------------------------------- Lobby */

function renderLobby(ctx, event, body) {
  const wrap = h('div', { class: 'lobby', 'aria-live': 'polite' }, h('p', { class: 'muted loading' }, 'Loading the lobby…'));
  replace(body, wrap);
  let sig = '';
  let timer = null;
  let stopped = false;

  async function load(first) {
    let lobby;
    try {
      lobby = await api.get(`/api/events/${encodeURIComponent(event.id)}/lobby`, { signal: ctx.signal });
    } catch (err) {
      if (err.name === 'AbortError' || !ctx.isCurrent()) return;
      if (first) replace(wrap, h('p', { class: 'inline-error', role: 'alert' }, `Couldn’t load the lobby. ${err.message}`));
      return;
    }
    if (!ctx.isCurrent() || stopped) return;
    const next = JSON.stringify([lobby.live, lobby.next, lobby.ended].map((l) => (l || []).map((e) => [e.session.id, e.session.status, e.people, Boolean(e.thumbnail_url)])));
    if (next !== sig) {
      sig = next;
      drawLobby(wrap, lobby);
    } else {
      refreshThumbs(wrap);
    }
  }

  const done = load(true).then(() => {
    if (!stopped) timer = window.setInterval(() => load(false), LOBBY_REFRESH_MS);
  });
  return done.then(() => () => {
    stopped = true;
    if (timer) window.clearInterval(timer);
  });
}

function thumbSrc(url) {
  return `${url}${url.includes('?') ? '&' : '?'}t=${Date.now()}`;
}

/** Swap in a fresh picture once it has loaded (no flash of an empty box). */
function refreshThumbs(root) {
  for (const img of root.querySelectorAll('img[data-thumb]')) {
    const next = new Image();
    next.onload = () => {
      if (img.isConnected) {
        img.src = next.src;
        img.closest('.lobby-thumb').classList.remove('is-empty');
      }
    };
    next.src = thumbSrc(img.dataset.thumb);
  }
}

function lobbySection(id, title, entries, empty, cardFn) {
  return h(
    'section',
    { class: 'lobby-section', 'aria-labelledby': `${id}-title` },
    h('h2', { class: 'section-title lobby-title', id: `${id}-title` }, title, h('span', { class: 'tab-count' }, String(entries.length))),
    entries.length ? h('ul', { class: `lobby-grid ${id}-grid`, id }, entries.map(cardFn)) : h('p', { class: 'empty-inline muted', id: `${id}-empty` }, empty),
  );
}

function liveCard(entry) {
  const s = entry.session;
  const co = (s.event && s.event.company) || null;
  const thumb = h('div', { class: ['lobby-thumb', 'is-empty'] }, h('span', { class: 'lobby-thumb-empty' }, co ? companyLogo(co, 'lg') : icon(ICONS.video, 'icon icon-lg')));
  if (entry.thumbnail_url) {
    const img = h('img', { alt: '', dataset: { thumb: entry.thumbnail_url } });
    img.addEventListener('load', () => thumb.classList.remove('is-empty'));
    img.addEventListener('error', () => thumb.classList.add('is-empty'));
    img.src = thumbSrc(entry.thumbnail_url);
    thumb.append(img);
  }
  thumb.append(h('span', { class: 'lobby-live-pill' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Live'));
  return h(
    'li',
    { class: 'lobby-card is-live', dataset: { sessionId: s.id } },
    thumb,
    h(
      'div',
      { class: 'lobby-card-body' },
      h('h3', { class: 'lobby-card-title' }, h('a', { href: sessionPath(s.id) }, s.title)),
      co ? h('p', { class: 'lobby-card-company' }, companyLogo(co, 'xs'), h('span', null, co.name)) : null,
      h('p', { class: 'small muted' }, timeRange(s), ' · ', plural(Number(entry.people) || 0, 'person', 'people'), ' in the room'),
    ),
    h(
      'a',
      { href: `${sessionPath(s.id)}/live`, class: 'btn btn-primary btn-sm lobby-join', id: `lobby-join-${s.id}` },
      'Join',
      h('span', { class: 'visually-hidden' }, ` “${s.title}”`),
    ),
  );
}

function rowCard(entry) {
  const s = entry.session;
  const co = (s.event && s.event.company) || null;
  return h(
    'li',
    { class: 'lobby-row', dataset: { sessionId: s.id } },
    h('time', { class: 'lobby-row-time', datetime: s.starts_at }, h('span', { class: 'program-date' }, formatDay(s.starts_at)), h('span', null, formatTime(s.starts_at))),
    co ? companyLogo(co, 'sm') : null,
    h(
      'div',
      { class: 'lobby-row-main' },
      h('a', { href: sessionPath(s.id), class: 'lobby-row-title' }, s.title),
      h('span', { class: 'small muted' }, co ? co.name : '', s.event && s.event.format ? ` · ${formatLabel(s.event.format)}` : ''),
    ),
  );
}

function drawLobby(wrap, lobby) {
  replace(
    wrap,
    lobbySection('lobby-live', 'Live now', lobby.live || [], 'Nothing is live right now. Sessions appear here the moment their hosts start them.', liveCard),
    h(
      'div',
      { class: 'lobby-columns' },
      lobbySection('lobby-next', 'Starting next', lobby.next || [], 'No more sessions scheduled.', rowCard),
      lobbySection('lobby-ended', 'Recently ended', lobby.ended || [], 'No session has ended yet.', rowCard),
    ),
  );
}

/* ------------------------------------------------------------ Companies */

function renderCompanies(event, companies, body) {
  if (!companies.length) {
    replace(body, emptyState({ id: 'companies-empty', iconPaths: ICONS.users, title: 'No companies yet', text: 'The organizers are still inviting companies.' }));
    return;
  }
  replace(
    body,
    h(
      'ul',
      { class: 'company-grid', id: 'company-grid' },
      companies.map((c) =>
        h(
          'li',
          null,
          h(
            'a',
            { href: companyPath(event.id, c.id), class: 'company-card', dataset: { companyId: c.id } },
            h('div', { class: 'company-card-head' }, companyLogo(c, 'md'), h('div', { class: 'company-card-name' }, h('h2', { class: 'company-card-title' }, c.name), c.location ? h('p', { class: 'small muted' }, c.location) : null)),
            c.description ? h('p', { class: 'company-card-desc' }, c.description) : null,
            h(
              'p',
              { class: 'company-card-foot small muted' },
              plural((c.sessions && c.sessions.booked) || 0, 'session', 'sessions'),
              (c.jobs || []).length ? ` · ${plural(c.jobs.length, 'open job', 'open jobs')}` : '',
            ),
          ),
        ),
      ),
    ),
  );
}
