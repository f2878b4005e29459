// My schedule: the sessions I registered for (or wait for), upcoming and
// past, as addressable tabs (/schedule, /schedule?tab=past). A session whose
// live room runs now gets a Join button (the server's `join_live`).

import { h, icon, replace, viewerTimeZone } from '../dom.js';
import { api } from '../api.js';
import { getState, loadMe } from '../state.js';
import {
  ICONS,
  dateChip,
  emptyState,
  formatDateTime,
  participantStatusBadge,
  roleBadge,
  sessionPath,
  stateCard,
  statusBadge,
  whenBlock,
} from '../sessions-ui.js';
import { eventTag } from '../events-ui.js';

const TABS = [
  { id: 'upcoming', label: 'Upcoming', href: '/schedule' },
  { id: 'past', label: 'Past', href: '/schedule?tab=past' },
];

export default async function render(ctx) {
  ctx.setTitle('My schedule');
  let { me, meError } = getState();
  if (!me && meError) {
    me = await loadMe();
    if (!ctx.isCurrent()) return;
  }
  if (!me) {
    ctx.redirect(`/signin?next=${encodeURIComponent('/schedule')}`);
    return;
  }

  const current = TABS.find((t) => t.id === ctx.query.get('tab')) || TABS[0];
  const body = h('div', { class: 'schedule-body' }, h('p', { class: 'muted loading' }, 'Loading your schedule…'));
  const tabNav = h('nav', { class: 'tabs', 'aria-label': 'Schedule' });
  const zone = viewerTimeZone();

  ctx.root.append(
    h(
      'div',
      { class: 'container schedule-page' },
      h(
        'div',
        { class: 'page-head' },
        h(
          'div',
          null,
          h('h1', { class: 'page-title' }, 'My schedule'),
          h('p', { class: 'muted' }, 'Sessions you’re registered for or waiting for.', zone ? ` Times are in your time zone (${zone}).` : ''),
        ),
        h('a', { href: '/', class: 'btn btn-secondary btn-sm' }, 'Browse sessions'),
      ),
      tabNav,
      body,
    ),
  );

  let data;
  try {
    data = await api.get('/api/me/schedule', { signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    if (err.status === 401) {
      ctx.redirect(`/signin?next=${encodeURIComponent('/schedule')}`);
      return;
    }
    replace(
      ctx.root,
      stateCard({
        title: 'Couldn’t load your schedule',
        text: err.message,
        alert: true,
        actions: [h('button', { type: 'button', class: 'btn btn-primary', onclick: () => ctx.redirect(ctx.path + (ctx.query.toString() ? `?${ctx.query}` : '')) }, 'Try again')],
      }),
    );
    return;
  }
  if (!ctx.isCurrent()) return;

  const lists = {
    upcoming: Array.isArray(data && data.upcoming) ? data.upcoming : [],
    past: Array.isArray(data && data.past) ? data.past : [],
  };

  replace(
    tabNav,
    TABS.map((t) =>
      h(
        'a',
        { href: t.href, class: 'tab', id: `schedule-tab-${t.id}`, 'aria-current': t === current ? 'page' : null },
        t.label,
        h('span', { class: 'tab-count' }, String(lists[t.id].length)),
      ),
    ),
  );

  const entries = lists[current.id];
  if (!entries.length) {
    replace(
      body,
      current.id === 'upcoming'
        ? emptyState({
            id: 'schedule-empty',
            title: 'Nothing on your schedule',
            text: 'When you register for a session or join a waitlist, it shows up here.',
            action: h('a', { href: '/', class: 'btn btn-primary btn-sm' }, 'Browse upcoming sessions'),
          })
        : emptyState({
            id: 'schedule-empty',
            title: 'No past sessions yet',
            text: 'Sessions you took part in will be listed here afterwards.',
          }),
    );
    return;
  }

  replace(body, h('ul', { class: 'schedule-list', id: `schedule-${current.id}` }, entries.map((e) => entryItem(e, current.id))));
}

function entryItem(entry, tab) {
  const session = entry.session || {};
  const waiting = entry.waitlist_position != null;
  const expires = entry.offer_expires_at ? new Date(entry.offer_expires_at) : null;
  const offer = waiting && expires && !Number.isNaN(expires.getTime());
  const cancelledSession = session.status === 'cancelled';

  let state;
  if (cancelledSession) state = statusBadge('cancelled');
  else if (waiting) state = h('span', { class: 'badge badge-waitlist' }, `Waitlist · #${entry.waitlist_position}`);
  else if (entry.status) state = participantStatusBadge(entry.status);

  return h(
    'li',
    { class: ['schedule-item', `is-${tab}`, cancelledSession && 'is-cancelled'], dataset: { sessionId: session.id } },
    dateChip(session.starts_at, 'date-chip-sm'),
    h(
      'div',
      { class: 'schedule-main' },
      h('h2', { class: 'schedule-title' }, h('a', { href: sessionPath(session.id) }, session.title || 'Untitled session')),
      eventTag(session),
      whenBlock(session, { cls: 'when when-sm' }),
      h(
        'div',
        { class: 'schedule-badges badges' },
        entry.role ? roleBadge(entry.role) : null,
        state,
        !cancelledSession && session.status && session.status !== 'open' && session.status !== 'full' ? statusBadge(session.status) : null,
      ),
      offer
        ? h(
            'p',
            { class: 'schedule-offer' },
            icon(ICONS.info, 'icon icon-sm'),
            h(
              'span',
              null,
              h('strong', null, 'A spot opened for you. '),
              'Claim it before ',
              formatDateTime(expires),
              ' on the ',
              h('a', { href: sessionPath(session.id) }, 'session page'),
              '.',
            ),
          )
        : null,
    ),
    entry.join_live
      ? h(
          'a',
          { href: `${sessionPath(session.id)}/live`, class: 'btn btn-primary btn-sm schedule-join', id: `schedule-join-${session.id}` },
          h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
          'Join',
          h('span', { class: 'visually-hidden' }, ` the live room of “${session.title || 'this session'}”`),
        )
      : h(
          'a',
          { href: sessionPath(session.id), class: 'btn btn-secondary btn-sm schedule-open', 'aria-hidden': 'true', tabindex: '-1' },
          'View',
        ),
  );
}
