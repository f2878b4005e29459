// Home: welcome hero, upcoming sessions, and the ways to take part.

import { h, append, icon, replace, viewerTimeZone } from '../dom.js';
import { api } from '../api.js';
import { getState, communityName, communityTimeZone, feature } from '../state.js';
import { availabilityText, dateChip, sessionPath, statusBadge, whenBlock, ICONS as UI_ICONS } from '../sessions-ui.js';

const ICONS = {
  calendar: ['M8 2v4', 'M16 2v4', 'M3 9h18', 'M5 4h14a2 2 0 0 1 2 2v13a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'],
  host: ['M12 3v2', 'M4.9 6.9l1.4 1.4', 'M19.1 6.9l-1.4 1.4', 'M8 21h8', 'M12 17v4', 'M8 13a4 4 0 1 1 8 0v4H8z'],
  presenter: ['M3 4h18', 'M5 4v10a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V4', 'M12 16v4', 'M8 20h8', 'M9 11l2-2 2 2 3-3'],
  interviewer: ['M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z', 'M9.5 8.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .8-1 1.5', 'M12 14.5h.01'],
  guest: ['M17 21v-2a4 4 0 0 0-4-4H7a4 4 0 0 0-4 4v2', 'M10 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M21 21v-2a4 4 0 0 0-3-3.9', 'M16 3.1a4 4 0 0 1 0 7.8'],
  info: ['M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z', 'M12 16v-4', 'M12 8h.01'],
  users: UI_ICONS.users,
  arrowRight: UI_ICONS.arrowRight,
};

async function loadUpcomingSessions(signal) {
  const body = await api.get('/api/sessions', { signal });
  return body && Array.isArray(body.sessions) ? body.sessions : [];
}

function emptyState(me) {
  let text;
  let action = null;
  if (me && (me.is_admin || feature('members_can_create_sessions'))) {
    text = 'Nothing is scheduled right now. Create a session, then publish it so members can register.';
    action = h('a', { href: '/admin/sessions/new', class: 'btn btn-secondary btn-sm', id: 'empty-new-session' }, 'Create a session');
  } else if (me) {
    text = 'New sessions will appear here as soon as they are announced. Check back soon.';
  } else {
    text = 'New sessions will appear here as soon as they are announced. Create an account now so you’re ready to register.';
    action = h('a', { href: '/signup', class: 'btn btn-secondary btn-sm' }, 'Create an account');
  }
  return h(
    'div',
    { class: 'empty-state', id: 'sessions-empty' },
    h('div', { class: 'empty-icon' }, icon(ICONS.calendar, 'icon icon-lg')),
    h('h3', { class: 'empty-title' }, 'No sessions scheduled yet'),
    h('p', { class: 'empty-text' }, text),
    action,
  );
}

function timeZoneNote() {
  const viewer = viewerTimeZone();
  const community = communityTimeZone();
  if (!viewer) return null;
  const parts = [`Times are shown in your time zone (${viewer}).`];
  if (community && community !== viewer) parts.push(`${communityName()} is based in ${community}.`);
  return h('p', { class: 'section-note' }, parts.join(' '));
}

/** First few lines of the description (the card clamps it visually too). */
function excerpt(text, max = 240) {
  const clean = String(text || '').replace(/\s+/g, ' ').trim();
  const chars = [...clean];
  if (chars.length <= max) return clean;
  const cut = chars.slice(0, max).join('');
  const space = cut.lastIndexOf(' ');
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).replace(/[\s,.;:–—-]+$/, '')}…`;
}

/** A recent picture of the stage, for sessions happening now (signed-in viewers). */
function liveThumb(session, me) {
  if (!me || !session.live_now) return null;
  return h('img', {
    class: 'session-card-thumb',
    alt: '',
    src: `/api/sessions/${session.id}/live/thumbnail?t=${Math.floor(Date.now() / 10000)}`,
    // No picture yet (or media off): just the card.
    onerror: (e) => e.currentTarget.remove(),
  });
}

function sessionCard(session, me) {
  const full = session.status === 'full';
  const open = session.status === 'open';
  const description = excerpt(session.description);
  const key = `session-${String(session.id).replace(/\W/g, '')}`;
  const when = whenBlock(session, { cls: 'when session-card-when' });
  when.id = `${key}-when`;
  const badge = statusBadge(session.status);
  badge.id = `${key}-status`;
  return h(
    'li',
    { class: 'session-item' },
    h(
      'a',
      {
        href: sessionPath(session.id),
        class: ['session-card', `is-${session.status}`],
        dataset: { sessionId: session.id },
        'aria-labelledby': `${key}-title ${key}-status ${key}-when`,
      },
      h(
        'div',
        { class: 'session-card-top' },
        dateChip(session.starts_at),
        h(
          'div',
          { class: 'session-card-head' },
          h('div', { class: 'session-card-badges' }, badge),
          h('h3', { class: 'session-card-title', id: `${key}-title` }, session.title),
        ),
      ),
      when,
      liveThumb(session, me),
      description ? h('p', { class: 'session-card-desc' }, description) : null,
      h(
        'div',
        { class: 'session-card-foot' },
        h(
          'span',
          { class: ['session-card-slots', open && 'has-spots', full && 'is-waitlist'] },
          icon(ICONS.users, 'icon icon-sm'),
          availabilityText(session),
        ),
        h('span', { class: 'session-card-more', 'aria-hidden': 'true' }, 'Details', icon(ICONS.arrowRight, 'icon icon-sm')),
      ),
    ),
  );
}

function renderSessions(container, sessions, me) {
  if (!sessions.length) {
    replace(container, emptyState(me));
    return;
  }
  replace(
    container,
    timeZoneNote(),
    h('ul', { class: 'session-grid', id: 'session-list' }, sessions.map((s) => sessionCard(s, me))),
  );
}

function roleCard(kind, title, text, premium) {
  return h(
    'li',
    { class: 'role-card' },
    h('div', { class: 'role-icon' }, icon(ICONS[kind])),
    h(
      'h3',
      { class: 'role-title' },
      title,
      premium ? h('span', { class: 'badge badge-premium' }, 'Premium') : null,
    ),
    h('p', { class: 'role-text' }, text),
  );
}

export default async function render(ctx) {
  const { me, config } = getState();
  const name = communityName();
  ctx.setTitle(null);

  const premiumPresenting = feature('premium_required_for_presenting');
  const premiumHosting = feature('premium_required_for_hosting');

  const actions = me
    ? [
        h('a', { href: '/schedule', class: 'btn btn-primary btn-lg' }, 'My schedule'),
        h('a', { href: '/profile', class: 'btn btn-secondary btn-lg' }, 'Your profile'),
        me.is_admin ? h('a', { href: '/admin?tab=sessions', class: 'btn btn-secondary btn-lg' }, 'Admin') : null,
      ]
    : [
        h('a', { href: '/signup', class: 'btn btn-primary btn-lg' }, 'Create an account'),
        h('a', { href: '/signin', class: 'btn btn-secondary btn-lg' }, 'Sign in'),
      ];

  const hero = h(
    'section',
    { class: 'hero', 'aria-labelledby': 'hero-title' },
    h(
      'div',
      { class: 'container hero-inner' },
      h(
        'div',
        { class: 'hero-copy' },
        h('p', { class: 'eyebrow' }, me ? `Welcome back, ${me.name}` : 'Live peer-learning sessions'),
        h('h1', { id: 'hero-title', class: 'hero-title' }, 'Welcome to ', h('span', { class: 'hero-name' }, name)),
        h(
          'p',
          { class: 'hero-lead' },
          'Short talks and real conversations. Join a session as a guest, present what you’ve learned, or host the discussion — live, right in your browser.',
        ),
        h('div', { class: 'actions' }, actions),
      ),
      h(
        'div',
        { class: 'hero-art', 'aria-hidden': 'true' },
        h(
          'div',
          { class: 'stage' },
          h('div', { class: 'stage-live' }, h('span', { class: 'live-dot' }), 'Live'),
          h(
            'div',
            { class: 'stage-grid' },
            h('div', { class: 'tile tile-a' }, h('span', { class: 'tile-avatar' })),
            h('div', { class: 'tile tile-b' }, h('span', { class: 'tile-avatar' })),
            h('div', { class: 'tile tile-c' }, h('span', { class: 'tile-avatar' })),
          ),
          h(
            'div',
            { class: 'stage-bar' },
            h('span', { class: 'stage-pill' }),
            h('span', { class: 'stage-pill short' }),
            h('span', { class: 'stage-pill accent' }),
          ),
        ),
      ),
    ),
  );

  const setupNotice =
    config && config.setup_required
      ? h(
          'div',
          { class: 'container' },
          h(
            'div',
            { class: 'banner banner-info' },
            icon(ICONS.info),
            h(
              'p',
              null,
              h('strong', null, 'Almost ready. '),
              'Finish setting up this Podium by opening the setup link printed in the server log (it looks like /setup?token=…).',
            ),
          ),
        )
      : null;

  const list = h('div', { class: 'session-list', 'aria-live': 'polite' }, h('p', { class: 'muted loading' }, 'Loading sessions…'));

  const sessions = h(
    'section',
    { class: 'section', 'aria-labelledby': 'upcoming-title' },
    h(
      'div',
      { class: 'container' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'upcoming-title', class: 'section-title' }, 'Upcoming sessions'),
        me && (me.is_admin || feature('members_can_create_sessions'))
          ? h('a', { href: '/admin/sessions/new', class: 'btn btn-secondary btn-sm', id: 'new-session-home' }, icon(UI_ICONS.plus, 'icon icon-sm'), 'New session')
          : null,
      ),
      list,
    ),
  );

  const roles = h(
    'section',
    { class: 'section section-alt', 'aria-labelledby': 'roles-title' },
    h(
      'div',
      { class: 'container' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'roles-title', class: 'section-title' }, 'Ways to take part'),
        h('p', { class: 'section-note' }, 'Every session has four roles. Pick the one that fits when you register.'),
      ),
      h(
        'ul',
        { class: 'role-grid' },
        roleCard('host', 'Host', 'Opens and closes the session, runs the stage and keeps the conversation moving.', premiumHosting),
        roleCard('presenter', 'Presenter', 'Gives a short talk of about ten minutes, followed by a few minutes of Q&A.', premiumPresenting),
        roleCard('interviewer', 'Interviewer', 'Leads the Q&A after each talk and draws out the insights.', premiumPresenting),
        roleCard('guest', 'Guest', 'Watches, chats, asks and upvotes questions, and can ask to join the stage.', false),
      ),
    ),
  );

  // Career fairs: shown when there are any (their sessions live in the event's program).
  const eventsSection = h('section', { class: 'section', 'aria-labelledby': 'events-title', id: 'home-events', hidden: true });
  append(ctx.root, [setupNotice, hero, eventsSection, sessions, roles]);
  if (me) {
    api
      .get('/api/events', { signal: ctx.signal })
      .then(async (res) => {
        const events = ((res && res.events) || []).filter((e) => e.status === 'published').slice(0, 3);
        if (!events.length || !ctx.isCurrent()) return;
        const { eventCard } = await import('./events.js');
        replace(
          eventsSection,
          h(
            'div',
            { class: 'container' },
            h('div', { class: 'section-head' }, h('h2', { id: 'events-title', class: 'section-title' }, 'Events'), h('a', { href: '/events', class: 'btn btn-secondary btn-sm' }, 'All events')),
            h('ul', { class: 'event-grid' }, events.map(eventCard)),
          ),
        );
        eventsSection.hidden = false;
      })
      .catch(() => {});
  }

  let upcoming = [];
  try {
    upcoming = await loadUpcomingSessions(ctx.signal);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    replace(list, h('p', { class: 'inline-error', role: 'alert' }, `Couldn’t load sessions. ${err.message}`));
    return;
  }
  if (!ctx.isCurrent()) return;
  renderSessions(list, upcoming, me);
}
