// Admin → Events tab (/admin?tab=events): every event the admin organizes
// (all of them), with its status, dates, companies and sessions, and links to
// its organizer page (/admin/events/{id}) and "New event".

import { h, icon, replace } from '../dom.js';
import { api } from '../api.js';
import { ICONS, emptyState, plural } from '../sessions-ui.js';
import { adminEventPath, eventDates, eventPath, eventStatusBadge } from '../events-ui.js';

export async function renderEventsTab(ctx, panel) {
  const summary = h('p', { class: 'panel-summary muted' }, 'Loading…');
  const body = h('div', { class: 'panel-body' });
  replace(
    panel,
    h(
      'section',
      { class: 'card panel', 'aria-labelledby': 'events-title' },
      h(
        'div',
        { class: 'panel-head' },
        h('div', null, h('h2', { class: 'card-title', id: 'events-title' }, 'Events'), summary),
        h('div', { class: 'panel-tools panel-tools-row' }, h('a', { href: '/admin/events/new', class: 'btn btn-primary btn-sm', id: 'admin-new-event' }, icon(ICONS.plus, 'icon icon-sm'), 'New event')),
      ),
      body,
    ),
  );
  let events;
  try {
    events = (await api.get('/api/events', { signal: ctx.signal })).events || [];
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    summary.textContent = '';
    replace(body, h('p', { class: 'form-error', role: 'alert' }, `Couldn’t load the events. ${err.message}`));
    return;
  }
  if (!ctx.isCurrent()) return;
  summary.textContent = plural(events.length, 'event', 'events');
  if (!events.length) {
    replace(
      body,
      h(
        'div',
        { class: 'panel-empty' },
        emptyState({
          id: 'admin-events-empty',
          title: 'No events yet',
          text: 'Create a career fair: set its days, time windows and rules, add companies and their speakers, then publish it.',
          action: h('a', { href: '/admin/events/new', class: 'btn btn-primary btn-sm' }, 'Create an event'),
        }),
      ),
    );
    return;
  }
  replace(
    body,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table', id: 'events-table' },
        h('caption', { class: 'visually-hidden' }, 'All events with their dates, status, companies and sessions'),
        h(
          'thead',
          null,
          h('tr', null, h('th', { scope: 'col' }, 'Event'), h('th', { scope: 'col' }, 'Dates'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Companies'), h('th', { scope: 'col' }, 'Sessions'), h('th', { scope: 'col', class: 'col-actions' }, h('span', { class: 'visually-hidden' }, 'Actions'))),
        ),
        h(
          'tbody',
          null,
          events.map((e) =>
            h(
              'tr',
              { dataset: { eventId: e.id } },
              h('th', { scope: 'row', class: 'cell-session' }, h('a', { href: adminEventPath(e.id), class: 'session-link' }, e.name), h('span', { class: 'cell-sub' }, e.time_zone)),
              h('td', { class: 'cell-when' }, eventDates(e)),
              h('td', null, eventStatusBadge(e.status)),
              h('td', null, String((e.counts && e.counts.companies) || 0)),
              h('td', null, String((e.counts && e.counts.sessions) || 0)),
              h(
                'td',
                { class: 'cell-actions' },
                h(
                  'div',
                  { class: 'row-actions' },
                  h('a', { href: adminEventPath(e.id), class: 'btn btn-sm btn-secondary' }, 'Manage'),
                  h('a', { href: eventPath(e.id), class: 'btn btn-sm btn-ghost' }, 'View'),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
