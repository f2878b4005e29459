// Admin area. Sections are tabs addressed by ?tab= (/admin is Users,
// /admin?tab=sessions is Sessions, /admin?tab=events is Events, /admin?tab=invitations
// is Invitations). A new section is one SECTIONS entry.
// The admin session editor (/admin/sessions/...) reuses requireAdmin().

import { h, replace, formatDate, initials } from '../dom.js';
import { api } from '../api.js';
import { getState, loadMe, communityName, feature } from '../state.js';
import { formErrorRegion, formStatusRegion, showFormError } from '../forms.js';
import { renderSessionsTab } from './admin-sessions.js';
import { renderEventsTab } from './admin-events.js';
import { renderInvitationsTab } from './admin-invitations.js';

const SECTIONS = [
  { id: 'users', label: 'Users', href: '/admin', render: renderUsers },
  { id: 'sessions', label: 'Sessions', href: '/admin?tab=sessions', render: renderSessionsTab },
  { id: 'events', label: 'Events', href: '/admin?tab=events', render: renderEventsTab },
  { id: 'invitations', label: 'Invitations', href: '/admin?tab=invitations', render: renderInvitationsTab },
];

function sectionFor(query) {
  const tab = query.get('tab');
  return SECTIONS.find((s) => s.id === tab) || SECTIONS[0];
}

export function adminsOnly(ctx) {
  ctx.setTitle('Admins only');
  replace(
    ctx.root,
    h(
      'div',
      { class: 'container narrow' },
      h(
        'div',
        { class: 'card state-card', id: 'admins-only' },
        h('h1', { class: 'state-title' }, 'Admins only'),
        h(
          'p',
          { class: 'muted' },
          `This area is for the administrators of ${communityName()}. If you think you should have access, ask an existing admin.`,
        ),
        h('div', { class: 'actions' }, h('a', { href: '/', class: 'btn btn-primary' }, 'Go to home')),
      ),
    ),
  );
}

function tabs(current) {
  return h(
    'nav',
    { class: 'tabs', 'aria-label': 'Admin sections' },
    SECTIONS.map((s) =>
      h(
        'a',
        { href: s.href, class: 'tab', 'aria-current': s === current ? 'page' : null, id: `admin-tab-${s.id}` },
        s.label,
      ),
    ),
  );
}

function unreachable(ctx, err) {
  ctx.setTitle('Admin');
  replace(
    ctx.root,
    h(
      'div',
      { class: 'container narrow' },
      h(
        'div',
        { class: 'card state-card' },
        h('h1', { class: 'state-title' }, 'Admin'),
        h('p', { id: 'form-error', class: 'form-error', role: 'alert' }, `Couldn’t check your account. ${err.message}`),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-primary', onclick: () => ctx.redirect(ctx.path + window.location.search) }, 'Try again'),
        ),
      ),
    ),
  );
}

/**
 * The signed-in admin, or null after showing what to do instead (redirect to
 * sign in, "admins only", or a retry card when the server could not be asked).
 * With `{ organisers: true }`, members pass too when the community lets
 * members create sessions (the server checks who manages which session).
 */
export async function requireAdmin(ctx, { organisers = false } = {}) {
  let { me, meError } = getState();
  if (!me && meError) {
    // The server could not be asked who we are; try once more before giving up.
    me = await loadMe();
    if (!ctx.isCurrent()) return null;
    meError = getState().meError;
    if (meError) {
      unreachable(ctx, meError);
      return null;
    }
  }
  if (!me) {
    ctx.redirect(`/signin?next=${encodeURIComponent(ctx.path + window.location.search)}`);
    return null;
  }
  if (!me.is_admin && !(organisers && feature('members_can_create_sessions'))) {
    adminsOnly(ctx);
    return null;
  }
  return me;
}

export default async function render(ctx) {
  const me = await requireAdmin(ctx);
  if (!me) return;

  const section = sectionFor(ctx.query);
  ctx.setTitle(section.id === 'users' ? 'Admin' : `${section.label} · Admin`);
  const panel = h('div', { class: 'admin-panel' });
  ctx.root.append(
    h(
      'div',
      { class: 'container' },
      h(
        'div',
        { class: 'page-head' },
        h('div', null, h('h1', { class: 'page-title' }, 'Admin'), h('p', { class: 'muted' }, `Manage ${communityName()}.`)),
      ),
      tabs(section),
      panel,
    ),
  );
  await section.render(ctx, panel, me);
}

/* ---------------------------------------------------------------- Users */

function switchControl(user, key, label, onChange) {
  const input = h('input', {
    type: 'checkbox',
    role: 'switch',
    class: 'switch-input',
    name: key,
    checked: Boolean(user[key]),
    'aria-label': `${label}: ${user.name}`,
    dataset: { userId: user.id },
  });
  input.addEventListener('change', () => onChange(input));
  return h(
    'label',
    { class: 'switch' },
    input,
    h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })),
    h('span', { class: 'switch-text', 'aria-hidden': 'true' }, label),
  );
}

async function renderUsers(ctx, panel, me) {
  const errorEl = formErrorRegion();
  const statusEl = formStatusRegion();
  const summary = h('p', { class: 'muted panel-summary' }, 'Loading…');
  const filter = h('input', {
    type: 'search',
    id: 'user-filter',
    class: 'input input-sm',
    placeholder: 'Search by name',
    autocomplete: 'off',
  });
  const body = h('div', { class: 'panel-body' }, h('p', { class: 'muted loading' }, 'Loading users…'));

  replace(
    panel,
    h(
      'section',
      { class: 'card panel', 'aria-labelledby': 'users-title' },
      h(
        'div',
        { class: 'panel-head' },
        h('div', null, h('h2', { class: 'card-title', id: 'users-title' }, 'Users'), summary),
        h(
          'div',
          { class: 'panel-tools' },
          h('label', { for: 'user-filter', class: 'visually-hidden' }, 'Search users by name'),
          filter,
        ),
      ),
      errorEl,
      statusEl,
      body,
    ),
  );

  let users;
  try {
    const res = await api.get('/api/admin/users', { signal: ctx.signal });
    users = Array.isArray(res.users) ? res.users : [];
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    if (err.status === 401) {
      ctx.redirect(`/signin?next=${encodeURIComponent(ctx.path)}`);
      return;
    }
    if (err.status === 403) {
      await loadMe();
      if (ctx.isCurrent()) adminsOnly(ctx);
      return;
    }
    summary.textContent = '';
    showFormError(errorEl, `Couldn’t load users. ${err.message}`);
    replace(
      body,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => ctx.redirect(ctx.path) }, 'Try again'),
      ),
    );
    return;
  }
  if (!ctx.isCurrent()) return;

  const rows = new Map(); // id -> { tr, user, inputs }

  function updateSummary() {
    const admins = users.filter((u) => u.is_admin).length;
    const premium = users.filter((u) => u.is_premium).length;
    const deleted = users.filter((u) => u.deleted).length;
    const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
    summary.textContent =
      `${plural(users.length - deleted, 'member', 'members')} · ${plural(admins, 'admin', 'admins')} · ${premium} premium` +
      (deleted ? ` · ${deleted} deleted` : '');
  }

  async function onToggle(user, key, input) {
    const want = input.checked;
    const hadFocus = document.activeElement === input;
    const row = rows.get(user.id);
    input.disabled = true;
    row.tr.setAttribute('aria-busy', 'true');
    showFormError(errorEl, '');
    statusEl.replaceChildren();
    try {
      const res = await api.patch(`/api/admin/users/${encodeURIComponent(user.id)}`, { [key]: want });
      const updated = res && res.user ? res.user : { ...user, [key]: want };
      Object.assign(user, updated);
      row.inputs.is_admin.checked = Boolean(user.is_admin);
      row.inputs.is_premium.checked = Boolean(user.is_premium);
      updateSummary();
      const what = key === 'is_admin' ? 'an admin' : 'premium';
      statusEl.replaceChildren(`${user.name} is ${user[key] ? 'now' : 'no longer'} ${what}.`);
      if (user.id === me.id && key === 'is_admin' && !user.is_admin) {
        // Removed our own admin rights: refresh and leave the admin area.
        await loadMe();
        if (ctx.isCurrent()) ctx.redirect(ctx.path);
        return;
      }
    } catch (err) {
      input.checked = !want;
      if (err.status === 401) {
        ctx.redirect(`/signin?next=${encodeURIComponent(ctx.path)}`);
        return;
      }
      showFormError(errorEl, `Couldn’t update ${user.name}. ${err.message}`);
    } finally {
      input.disabled = false;
      row.tr.removeAttribute('aria-busy');
      if (hadFocus && input.isConnected) input.focus();
    }
  }

  function userBadges(user) {
    return h(
      'span',
      { class: 'user-badges' },
      user.id === me.id ? h('span', { class: 'badge badge-you' }, 'You') : null,
      user.deleted ? h('span', { class: 'badge badge-deleted', title: 'This member deleted their account' }, 'Deleted') : null,
      !user.deleted && !user.email_verified
        ? h('span', { class: 'badge badge-unconfirmed', title: 'Has not confirmed their email address' }, 'Unconfirmed')
        : null,
    );
  }

  const tbody = h('tbody');
  for (const user of users) {
    const inputs = {};
    const premium = switchControl(user, 'is_premium', 'Premium', (input) => onToggle(user, 'is_premium', input));
    const admin = switchControl(user, 'is_admin', 'Admin', (input) => onToggle(user, 'is_admin', input));
    inputs.is_premium = premium.querySelector('input');
    inputs.is_admin = admin.querySelector('input');
    if (user.deleted) {
      inputs.is_premium.disabled = true;
      inputs.is_admin.disabled = true;
    }
    const tr = h(
      'tr',
      { class: user.deleted ? 'is-deleted' : null, dataset: { userId: user.id } },
      h(
        'th',
        { scope: 'row', class: 'cell-user' },
        h(
          'span',
          { class: 'user-cell' },
          h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' }, initials(user.name)),
          h('span', { class: 'user-name' }, user.name),
          userBadges(user),
        ),
      ),
      h('td', { class: 'cell-joined' }, h('span', { class: 'cell-label' }, 'Joined '), formatDate(user.created_at) || '—'),
      h('td', { class: 'cell-switch' }, premium),
      h('td', { class: 'cell-switch' }, admin),
    );
    rows.set(user.id, { tr, user, inputs });
    tbody.append(tr);
  }

  const noMatch = h('p', { class: 'muted empty-inline', hidden: true }, 'No users match your search.');
  const table = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table users-table', id: 'users-table' },
      h('caption', { class: 'visually-hidden' }, 'Community members, with their Premium and Admin status'),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { scope: 'col' }, 'Name'),
          h('th', { scope: 'col' }, 'Joined'),
          h('th', { scope: 'col', class: 'col-switch' }, 'Premium'),
          h('th', { scope: 'col', class: 'col-switch' }, 'Admin'),
        ),
      ),
      tbody,
    ),
  );

  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLocaleLowerCase();
    let shown = 0;
    for (const { tr, user } of rows.values()) {
      const match = !q || String(user.name).toLocaleLowerCase().includes(q);
      tr.hidden = !match;
      if (match) shown += 1;
    }
    noMatch.hidden = shown > 0;
  });

  updateSummary();
  if (!users.length) {
    replace(body, h('p', { class: 'muted empty-inline' }, 'No users yet.'));
  } else {
    replace(body, table, noMatch);
  }
}
