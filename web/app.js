// Podium web shell: boot, client-side router and in-app navigation.
//
// Adding a page = a new module in views/ plus one entry in ROUTES.
//
// A view module's default export is `async render(ctx)`; it fills `ctx.root`
// (a fresh element already placed in <main>) and resolves once its data is
// loaded, after which <main> gets data-ready="1". It may return a cleanup
// function that runs before the next page renders (e.g. to close a live
// connection). ctx:
//   root      element to render into
//   params    route parameters, e.g. { id } for '/sessions/:id'
//   query     URLSearchParams of the current URL
//   path      current pathname
//   signal    AbortSignal, aborted when the user navigates away
//   isCurrent() false once the user navigated away (stop touching the DOM)
//   navigate(to, { replace })  in-app navigation
//   redirect(to)               navigate, replacing the current history entry
//   setTitle(title)            document.title = "title · community"

import { h, replace } from './dom.js';
import { loadConfig, loadMe, subscribe, communityName } from './state.js';
import { renderChrome, renderHeader, renderFooter, renderNotice } from './views/layout.js';

const ROUTES = [
  route('/', 'home', () => import('./views/home.js')),
  route('/signin', 'signin', () => import('./views/signin.js')),
  route('/signup', 'signup', () => import('./views/signup.js')),
  route('/reset', 'reset', () => import('./views/reset.js')),
  route('/verify', 'verify', () => import('./views/verify.js')),
  route('/profile', 'profile', () => import('./views/profile.js')),
  route('/admin', 'admin', () => import('./views/admin.js')),
  route('/sessions/:id/live', 'live', () => import('./live/room.js')),
  route('/sessions/:id', 'session', () => import('./views/session.js')),
  route('/members', 'members', () => import('./views/members.js')),
  route('/members/:id', 'member', () => import('./views/members.js')),
  route('/schedule', 'schedule', () => import('./views/schedule.js')),
  // 'new' before ':id' so it isn't taken for an id.
  route('/admin/sessions/new', 'admin-session-new', () => import('./views/admin-session.js')),
  route('/admin/sessions/:id', 'admin-session', () => import('./views/admin-session.js')),
  route('/events', 'events', () => import('./views/events.js')),
  route('/events/:id', 'event', () => import('./views/event.js')),
  route('/events/:id/companies/:cid', 'company', () => import('./views/company.js')),
  route('/events/:id/companies/:cid/book', 'company-book', () => import('./views/company-book.js')),
  route('/events/:id/companies/:cid/edit', 'company-edit', () => import('./views/company-edit.js')),
  route('/admin/events/new', 'admin-event-new', () => import('./views/admin-event.js')),
  route('/admin/events/:id', 'admin-event', () => import('./views/admin-event.js')),
  route('/setup', 'setup', () => import('./views/setup.js')),
];
const NOT_FOUND = { page: 'notfound', load: () => import('./views/notfound.js') };

function route(pattern, page, load) {
  const keys = [];
  const source = pattern
    .replace(/\/+$/, '')
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        keys.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { page, load, keys, regex: new RegExp(`^${source}/?$`) };
}

function match(pathname) {
  for (const r of ROUTES) {
    const m = r.regex.exec(pathname);
    if (m) {
      const params = {};
      r.keys.forEach((k, i) => {
        try {
          params[k] = decodeURIComponent(m[i + 1]);
        } catch {
          params[k] = m[i + 1];
        }
      });
      return { route: r, params };
    }
  }
  return { route: NOT_FOUND, params: {} };
}

const main = document.getElementById('main');
let navId = 0;
let cleanup = null;
let controller = null;
let renderedKey = null;

function setTitle(title) {
  const name = communityName();
  document.title = title ? `${title} · ${name}` : name;
}

export function navigate(to, { replace: replaceEntry = false } = {}) {
  const url = new URL(to, window.location.href);
  if (url.origin !== window.location.origin) {
    window.location.assign(url.href);
    return;
  }
  const target = url.pathname + url.search + url.hash;
  const here = window.location.pathname + window.location.search + window.location.hash;
  if (ownPolicy(url.pathname) !== ownPolicy(window.location.pathname)) {
    // The live room's page has its own Content-Security-Policy (the YouTube
    // player for video on stage): load it, and leave it, as a whole page.
    if (replaceEntry) window.location.replace(url.href);
    else window.location.assign(url.href);
    return;
  }
  if (replaceEntry) window.history.replaceState(null, '', target);
  else if (target !== here) window.history.pushState(null, '', target);
  renderRoute({ focus: true, scroll: true });
}

/** Pages served with their own Content-Security-Policy (the live room). */
function ownPolicy(pathname) {
  return /^\/sessions\/\d+\/live\/?$/.test(pathname);
}

function focusPage(root) {
  const active = document.activeElement;
  // Don't steal focus if the user already moved into the new page.
  if (active && active !== document.body && root.contains(active)) return;
  const heading = root.querySelector('h1');
  const target = heading || main;
  if (heading && !heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
  target.focus({ preventScroll: true });
}

function errorView(err) {
  console.error(err);
  return h(
    'div',
    { class: 'container narrow' },
    h(
      'div',
      { class: 'card state-card' },
      h('h1', { class: 'state-title' }, 'Something went wrong'),
      h(
        'p',
        { class: 'muted', role: 'alert' },
        err && err.message ? err.message : 'This page could not be displayed.',
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-primary', onclick: () => window.location.reload() }, 'Reload page'),
        h('a', { href: '/', class: 'btn btn-secondary' }, 'Go to home'),
      ),
    ),
  );
}

async function renderRoute({ focus = false, scroll = false } = {}) {
  const id = ++navId;
  const isCurrent = () => id === navId;

  if (controller) controller.abort();
  controller = new AbortController();
  const { signal } = controller;

  if (cleanup) {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
    cleanup = null;
  }

  const { pathname, search } = window.location;
  renderedKey = pathname + search;
  const { route: r, params } = match(pathname);
  main.dataset.page = r.page;
  main.removeAttribute('data-ready');
  main.setAttribute('aria-busy', 'true');
  renderHeader();

  const root = h('div', { class: `page page-${r.page}` });
  const ctx = {
    root,
    params,
    query: new URLSearchParams(search),
    path: pathname,
    signal,
    isCurrent,
    navigate,
    redirect: (to) => navigate(to, { replace: true }),
    setTitle,
  };

  try {
    const mod = await r.load();
    if (!isCurrent()) return;
    replace(main, root);
    if (scroll) window.scrollTo(0, 0);
    const result = await mod.default(ctx);
    if (!isCurrent()) {
      if (typeof result === 'function') result();
      return;
    }
    if (typeof result === 'function') cleanup = result;
  } catch (err) {
    if (!isCurrent() || (err && err.name === 'AbortError')) return;
    replace(root, errorView(err));
    if (!root.isConnected) replace(main, root);
    setTitle('Error');
  }
  main.removeAttribute('aria-busy');
  main.dataset.ready = '1';
  if (focus) focusPage(root);
}

function onLinkClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target instanceof Element ? event.target.closest('a[href]') : null;
  if (!a) return;
  if ((a.target && a.target !== '_self') || a.hasAttribute('download') || 'native' in a.dataset) return;
  const href = a.getAttribute('href');
  if (href.startsWith('#')) {
    // In-page anchors (e.g. the skip link): move focus without a route change.
    const target = document.getElementById(href.slice(1));
    if (target) {
      event.preventDefault();
      if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
      target.focus();
      target.scrollIntoView({ block: 'start' });
    }
    return;
  }
  const url = new URL(a.href);
  if (url.origin !== window.location.origin) return;
  if (url.pathname.startsWith('/api/')) return;
  if (!/^https?:$/.test(url.protocol)) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}

async function retry() {
  await Promise.all([loadConfig(), loadMe()]);
  renderRoute();
}

async function boot() {
  document.addEventListener('click', onLinkClick);
  window.addEventListener('popstate', () => {
    // Fragment-only changes also fire popstate; only re-render on real moves.
    if (window.location.pathname + window.location.search === renderedKey) return;
    if (renderedKey !== null && ownPolicy(window.location.pathname) !== ownPolicy(renderedKey.split('?')[0])) {
      window.location.reload();
      return;
    }
    renderRoute({ focus: true });
  });

  await Promise.all([loadConfig(), loadMe()]);
  renderChrome(retry);
  subscribe(() => {
    renderHeader();
    renderFooter();
    renderNotice(retry);
  });
  await renderRoute();
}

boot();
