// The member directory (/members) and one member's public profile
// (/members/:id): names, short bios and links. Never email addresses.
// Signed-in members only; the server answers 401 otherwise.

import { h, replace, formatDate, initials } from '../dom.js';
import { api } from '../api.js';
import { getState, loadMe } from '../state.js';
import { emptyState, stateCard } from '../sessions-ui.js';

function avatar(name, cls = 'avatar avatar-md') {
  return h('span', { class: cls, 'aria-hidden': 'true' }, initials(name));
}

function linkList(links) {
  if (!links || !links.length) return null;
  return h(
    'ul',
    { class: 'member-links' },
    links.map((url) => {
      let label = url;
      try {
        const u = new URL(url);
        label = u.host + (u.pathname === '/' ? '' : u.pathname);
      } catch {
        // Shown as given.
      }
      return h('li', null, h('a', { href: url, rel: 'noopener noreferrer nofollow', target: '_blank' }, label));
    }),
  );
}

function card(m) {
  return h(
    'li',
    { class: 'card member-card', dataset: { userId: m.id } },
    h(
      'a',
      { href: `/members/${m.id}`, class: 'member-card-head' },
      avatar(m.name),
      h('span', { class: 'member-name' }, m.name),
    ),
    m.bio ? h('p', { class: 'member-bio' }, m.bio) : h('p', { class: 'member-bio muted' }, 'No bio yet.'),
    linkList(m.links),
  );
}

async function signedIn(ctx) {
  let { me, meError } = getState();
  if (!me && meError) {
    me = await loadMe();
    if (!ctx.isCurrent()) return null;
  }
  if (!me) {
    ctx.redirect(`/signin?next=${encodeURIComponent(ctx.path)}`);
    return null;
  }
  return me;
}

async function renderList(ctx) {
  ctx.setTitle('Members');
  const search = h('input', { type: 'search', class: 'input', id: 'member-search', placeholder: 'Search by name', 'aria-label': 'Search members by name' });
  const list = h('ul', { class: 'member-grid', id: 'member-list' });
  const count = h('p', { class: 'muted', id: 'member-count' });
  replace(
    ctx.root,
    h(
      'div',
      { class: 'container' },
      h('header', { class: 'page-head page-head-stacked' }, h('h1', { class: 'page-title' }, 'Members'), h('p', { class: 'page-lead muted' }, 'The people of this community. Email addresses stay private.')),
      h('div', { class: 'member-tools' }, search, count),
      list,
    ),
  );
  let members;
  try {
    members = (await api.get('/api/members', { signal: ctx.signal })).members || [];
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    replace(ctx.root, stateCard({ title: 'Couldn’t load the members', text: err.message, alert: true }));
    return;
  }
  if (!ctx.isCurrent()) return;
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const shown = members.filter((m) => !q || m.name.toLowerCase().includes(q));
    count.textContent = `${shown.length} of ${members.length} ${members.length === 1 ? 'member' : 'members'}`;
    replace(list, shown.length ? shown.map(card) : h('li', null, emptyState({ id: 'members-empty', title: 'Nobody by that name', text: 'Try another spelling.' })));
  };
  search.addEventListener('input', draw);
  draw();
}

async function renderOne(ctx, id) {
  let m;
  try {
    m = (await api.get(`/api/members/${encodeURIComponent(id)}`, { signal: ctx.signal })).member;
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    replace(
      ctx.root,
      err.status === 404
        ? stateCard({ code: '404', title: 'No such member', text: 'The link may be mistyped.', actions: [h('a', { href: '/members', class: 'btn btn-primary' }, 'All members')] })
        : stateCard({ title: 'Couldn’t load this member', text: err.message, alert: true }),
    );
    return;
  }
  if (!ctx.isCurrent()) return;
  ctx.setTitle(m.name);
  replace(
    ctx.root,
    h(
      'div',
      { class: 'container narrow' },
      h('a', { href: '/members', class: 'back-link' }, '← All members'),
      h(
        'article',
        { class: 'card member-profile', id: 'member-profile', dataset: { userId: m.id } },
        h('header', { class: 'member-profile-head' }, avatar(m.name, 'avatar avatar-lg'), h('div', null, h('h1', { class: 'page-title' }, m.name), h('p', { class: 'muted' }, `Member since ${formatDate(m.created_at, { month: 'long', year: 'numeric' })}`))),
        m.bio ? h('p', { class: 'member-bio member-bio-full' }, m.bio) : h('p', { class: 'muted' }, 'No bio yet.'),
        linkList(m.links),
      ),
    ),
  );
}

export default async function render(ctx) {
  if (!(await signedIn(ctx))) return;
  if (ctx.params.id) await renderOne(ctx, ctx.params.id);
  else await renderList(ctx);
}
