// Events (/events): the career fairs as cards, soonest first, as the server
// lists them (published and ended ones, plus drafts the viewer organizes).
// Admins get "New event" (/admin/events/new).

import { h, icon, replace } from '../dom.js';
import { api } from '../api.js';
import { ICONS, emptyState, plural, stateCard } from '../sessions-ui.js';
import { adminEventPath, eventDates, eventPath, eventStatusBadge, requireMember } from '../events-ui.js';

export function eventCard(event) {
  const counts = event.counts || {};
  return h(
    'li',
    { class: 'event-item' },
    h(
      'a',
      { href: eventPath(event.id), class: ['event-card', `is-${event.status}`], dataset: { eventId: event.id } },
      h(
        'div',
        { class: 'event-card-band', 'aria-hidden': 'true' },
        icon(ICONS.calendar, 'icon'),
        h('span', null, eventDates(event)),
      ),
      h(
        'div',
        { class: 'event-card-body' },
        h('div', { class: 'badges' }, event.status !== 'published' ? eventStatusBadge(event.status) : null),
        h('h2', { class: 'event-card-title' }, event.name),
        event.time_zone ? h('p', { class: 'event-card-when' }, icon(ICONS.globe, 'icon icon-xs'), `Times in ${event.time_zone}`) : null,
        event.description ? h('p', { class: 'event-card-desc' }, event.description) : null,
      ),
      h(
        'div',
        { class: 'event-card-foot' },
        h('span', null, icon(ICONS.users, 'icon icon-sm'), plural(counts.companies || 0, 'company', 'companies')),
        h('span', null, icon(ICONS.video, 'icon icon-sm'), plural(counts.sessions || 0, 'session', 'sessions')),
      ),
    ),
    event.can && event.can.manage
      ? h('a', { href: adminEventPath(event.id), class: 'btn btn-ghost btn-sm event-card-manage', id: `manage-event-${event.id}` }, icon(ICONS.edit, 'icon icon-sm'), 'Manage')
      : null,
  );
}

export default async function render(ctx) {
  ctx.setTitle('Events');
  const me = await requireMember(ctx);
  if (!me) return;
  const list = h('div', { class: 'events-body' }, h('p', { class: 'muted loading' }, 'Loading events…'));
  ctx.root.append(
    h(
      'div',
      { class: 'container events-page' },
      h(
        'div',
        { class: 'page-head' },
        h(
          'div',
          null,
          h('h1', { class: 'page-title' }, 'Events'),
          h('p', { class: 'muted' }, 'Career fairs and other events: meet companies in workshops, presentations and coffee chats.'),
        ),
        me.is_admin ? h('a', { href: '/admin/events/new', class: 'btn btn-primary btn-sm', id: 'new-event' }, icon(ICONS.plus, 'icon icon-sm'), 'New event') : null,
      ),
      list,
    ),
  );

  let events;
  try {
    events = (await api.get('/api/events', { signal: ctx.signal })).events || [];
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    replace(list, stateCard({ title: 'Couldn’t load the events', text: err.message, alert: true }));
    return;
  }
  if (!ctx.isCurrent()) return;
  if (!events.length) {
    replace(
      list,
      emptyState({
        id: 'events-empty',
        title: 'No events yet',
        text: me.is_admin ? 'Create an event, add companies and time windows, then publish it.' : 'Upcoming events will be listed here once they are announced.',
        action: me.is_admin ? h('a', { href: '/admin/events/new', class: 'btn btn-secondary btn-sm' }, 'Create an event') : null,
      }),
    );
    return;
  }
  replace(list, h('ul', { class: 'event-grid', id: 'event-list' }, events.map(eventCard)));
}
