// Admin → Sessions tab (/admin?tab=sessions): every session with its state
// actions (Publish, Close, Reopen, Cancel, Edit). Also exports the state
// transitions, shared with the session editor.

import { h, icon, replace } from '../dom.js';
import { api } from '../api.js';
import { loadMe } from '../state.js';
import { formErrorRegion, formStatusRegion, showFormError } from '../forms.js';
import {
  ICONS,
  adminSessionPath,
  apiSessionPath,
  confirmDialog,
  emptyState,
  formatDateTime,
  plural,
  statusBadge,
  totals,
} from '../sessions-ui.js';

export const TRANSITIONS = {
  publish: {
    label: 'Publish',
    from: ['draft'],
    done: (s) => `“${s.title}” is published and open for registration.`,
  },
  close: {
    label: 'Close',
    from: ['open', 'full'],
    done: (s) => `Registration for “${s.title}” is closed.`,
  },
  reopen: {
    label: 'Reopen',
    from: ['closed'],
    done: (s) => `“${s.title}” is open for registration again.`,
  },
  cancel: {
    label: 'Cancel',
    from: ['draft', 'open', 'full', 'closed', 'in_progress'],
    done: (s) => `“${s.title}” was cancelled. Everyone registered is being emailed.`,
  },
};

/** The transitions available in `status`, in display order. */
export function transitionsFor(status) {
  return Object.keys(TRANSITIONS).filter((k) => TRANSITIONS[k].from.includes(status));
}

/**
 * Run a state transition (asks first for Cancel). Resolves with the updated
 * session, or null when the admin dismissed the confirmation. Throws ApiError.
 */
export async function transitionSession(session, action) {
  if (action === 'cancel') {
    const t = totals(session);
    const ok = await confirmDialog({
      title: 'Cancel this session?',
      message: [
        `“${session.title}” will be cancelled${t.filled ? ` and all ${plural(t.filled, 'participant', 'participants')} will be emailed` : ' and everyone registered will be emailed'}.`,
        'This cannot be undone.',
      ],
      confirmLabel: 'Cancel session',
      cancelLabel: 'Keep session',
      danger: true,
    });
    if (!ok) return null;
  }
  const res = await api.post(apiSessionPath(session.id, `/${action}`));
  return res && res.session ? res.session : res && res.id ? res : { ...session };
}

const FILTERS = [
  { id: 'all', label: 'All sessions', test: () => true },
  { id: 'draft', label: 'Drafts', test: (s) => s.status === 'draft' },
  { id: 'open', label: 'Open & full', test: (s) => s.status === 'open' || s.status === 'full' },
  { id: 'closed', label: 'Closed', test: (s) => s.status === 'closed' },
  { id: 'in_progress', label: 'In progress', test: (s) => s.status === 'in_progress' },
  { id: 'completed', label: 'Completed', test: (s) => s.status === 'completed' },
  { id: 'cancelled', label: 'Cancelled', test: (s) => s.status === 'cancelled' },
];

export async function renderSessionsTab(ctx, panel) {
  const here = () => ctx.path + window.location.search;
  const errorEl = formErrorRegion();
  const statusEl = formStatusRegion();
  const summary = h('p', { class: 'muted panel-summary' }, 'Loading…');
  const filter = h(
    'select',
    { id: 'session-filter', class: 'input input-sm select' },
    FILTERS.map((f) => h('option', { value: f.id }, f.label)),
  );
  const body = h('div', { class: 'panel-body' }, h('p', { class: 'muted loading' }, 'Loading sessions…'));

  replace(
    panel,
    h(
      'section',
      { class: 'card panel', 'aria-labelledby': 'sessions-title' },
      h(
        'div',
        { class: 'panel-head' },
        h('div', null, h('h2', { class: 'card-title', id: 'sessions-title' }, 'Sessions'), summary),
        h(
          'div',
          { class: 'panel-tools panel-tools-row' },
          h('label', { for: 'session-filter', class: 'visually-hidden' }, 'Show'),
          filter,
          h(
            'a',
            { href: '/admin/sessions/new', class: 'btn btn-primary btn-sm', id: 'new-session' },
            icon(ICONS.plus, 'icon icon-sm'),
            'New session',
          ),
        ),
      ),
      errorEl,
      statusEl,
      body,
    ),
  );

  let sessions;
  try {
    const res = await api.get('/api/sessions?scope=all', { signal: ctx.signal });
    sessions = Array.isArray(res.sessions) ? res.sessions : [];
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    if (err.status === 401) {
      ctx.redirect(`/signin?next=${encodeURIComponent(here())}`);
      return;
    }
    if (err.status === 403) {
      await loadMe();
      if (ctx.isCurrent()) ctx.redirect(here());
      return;
    }
    summary.textContent = '';
    showFormError(errorEl, `Couldn’t load sessions. ${err.message}`);
    replace(
      body,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => ctx.redirect(here()) }, 'Try again')),
    );
    return;
  }
  if (!ctx.isCurrent()) return;

  function updateSummary() {
    const drafts = sessions.filter((s) => s.status === 'draft').length;
    const live = sessions.filter((s) => ['open', 'full', 'closed', 'in_progress'].includes(s.status)).length;
    summary.textContent = `${plural(sessions.length, 'session', 'sessions')} · ${live} scheduled · ${plural(drafts, 'draft', 'drafts')}`;
  }

  if (!sessions.length) {
    summary.textContent = 'No sessions yet.';
    filter.disabled = true;
    replace(
      body,
      h(
        'div',
        { class: 'panel-empty' },
        emptyState({
          id: 'admin-sessions-empty',
          title: 'No sessions yet',
          text: 'Create your first session. It starts as a draft; publish it when it’s ready for members to register.',
          action: h('a', { href: '/admin/sessions/new', class: 'btn btn-primary btn-sm' }, 'Create a session'),
        }),
      ),
    );
    return;
  }

  const tbody = h('tbody');
  const rows = new Map(); // id -> tr

  function row(session) {
    const t = totals(session);
    const actions = transitionsFor(session.status).map((action) =>
      h(
        'button',
        {
          type: 'button',
          class: ['btn btn-sm', action === 'cancel' ? 'btn-danger-ghost' : action === 'publish' ? 'btn-primary' : 'btn-secondary'],
          dataset: { action },
          'aria-label': `${TRANSITIONS[action].label} “${session.title}”`,
          onclick: (event) => onAction(session, action, event.currentTarget),
        },
        TRANSITIONS[action].label,
      ),
    );
    actions.unshift(
      h(
        'a',
        {
          href: adminSessionPath(session.id),
          class: 'btn btn-sm btn-secondary',
          dataset: { action: 'edit' },
          'aria-label': `Edit “${session.title}”`,
        },
        'Edit',
      ),
    );
    const pct = t.capacity ? Math.round((100 * t.filled) / t.capacity) : 0;
    return h(
      'tr',
      { dataset: { sessionId: session.id, status: session.status } },
      h(
        'th',
        { scope: 'row', class: 'cell-session' },
        h('a', { href: adminSessionPath(session.id), class: 'session-link' }, session.title),
        session.time_zone ? h('span', { class: 'cell-sub' }, session.time_zone) : null,
      ),
      h('td', { class: 'cell-when' }, h('span', { class: 'cell-label' }, 'Starts '), formatDateTime(session.starts_at) || '—'),
      h('td', { class: 'cell-status' }, statusBadge(session.status)),
      h(
        'td',
        { class: 'cell-filled' },
        h('span', { class: 'cell-label' }, 'Filled '),
        h('span', { class: 'filled-num' }, `${t.filled}/${t.capacity}`),
        h('span', { class: 'meter', 'aria-hidden': 'true' }, h('span', { class: ['meter-bar', `w-${Math.min(100, Math.round(pct / 10) * 10)}`] })),
      ),
      h('td', { class: 'cell-actions' }, h('div', { class: 'row-actions' }, actions)),
    );
  }

  async function onAction(session, action, button) {
    showFormError(errorEl, '');
    statusEl.replaceChildren();
    const tr = rows.get(session.id);
    button.disabled = true;
    tr.setAttribute('aria-busy', 'true');
    try {
      const updated = await transitionSession(session, action);
      if (!updated) return;
      const index = sessions.findIndex((s) => s.id === session.id);
      if (index >= 0) sessions[index] = updated;
      const next = row(updated);
      tr.replaceWith(next);
      rows.set(updated.id, next);
      updateSummary();
      applyFilter();
      statusEl.textContent = TRANSITIONS[action].done(updated);
      const focusTarget = next.querySelector('[data-action]:not([data-action="edit"])') || next.querySelector('a');
      if (focusTarget) focusTarget.focus();
    } catch (err) {
      if (err.status === 401) {
        ctx.redirect(`/signin?next=${encodeURIComponent(here())}`);
        return;
      }
      showFormError(errorEl, `Couldn’t ${TRANSITIONS[action].label.toLowerCase()} “${session.title}”. ${err.message}`);
    } finally {
      if (button.isConnected) button.disabled = false;
      if (tr.isConnected) tr.removeAttribute('aria-busy');
    }
  }

  for (const s of sessions) {
    const tr = row(s);
    rows.set(s.id, tr);
    tbody.append(tr);
  }

  const noMatch = h('p', { class: 'muted empty-inline', hidden: true }, 'No sessions with this status.');
  function applyFilter() {
    const f = FILTERS.find((x) => x.id === filter.value) || FILTERS[0];
    let shown = 0;
    for (const s of sessions) {
      const tr = rows.get(s.id);
      const match = f.test(s);
      tr.hidden = !match;
      if (match) shown += 1;
    }
    noMatch.hidden = shown > 0;
  }
  filter.addEventListener('change', applyFilter);

  updateSummary();
  replace(
    body,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table sessions-table', id: 'sessions-table' },
        h('caption', { class: 'visually-hidden' }, 'All sessions with their start time, status, places filled and actions'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', { scope: 'col' }, 'Session'),
            h('th', { scope: 'col' }, 'Starts'),
            h('th', { scope: 'col' }, 'Status'),
            h('th', { scope: 'col' }, 'Filled'),
            h('th', { scope: 'col', class: 'col-actions' }, h('span', { class: 'visually-hidden' }, 'Actions')),
          ),
        ),
        tbody,
      ),
    ),
    noMatch,
  );
}
