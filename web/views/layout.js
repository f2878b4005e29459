// The shared page chrome: header (brand + navigation), a site-wide notice
// area for connectivity problems, and the footer. Re-rendered whenever the
// app state changes (sign in / out, profile rename) and after navigation.

import { h, replace, initials } from '../dom.js';
import { getState, communityName } from '../state.js';

const header = () => document.getElementById('site-header');
const footer = () => document.getElementById('site-footer');
const notice = () => document.getElementById('site-notice');

function isCurrent(path) {
  const here = window.location.pathname.replace(/\/+$/, '') || '/';
  if (path === '/') return here === '/';
  return here === path || here.startsWith(`${path}/`);
}

function navLink(path, label, cls = 'nav-link') {
  return h('a', { href: path, class: cls, 'aria-current': isCurrent(path) ? 'page' : null, id: `nav-${path.replace(/\W+/g, '') || 'home'}` }, label);
}

function brand() {
  return h(
    'a',
    { href: '/', class: 'brand' },
    h('img', { class: 'brand-mark', src: '/favicon.svg', alt: '', width: 28, height: 28 }),
    h('span', { class: 'brand-name' }, communityName()),
  );
}

export function renderHeader() {
  const el = header();
  if (!el) return;
  const { me } = getState();
  const items = [h('li', { class: 'nav-home' }, navLink('/', 'Home'))];
  if (me) {
    items.push(
      h(
        'li',
        null,
        navLink('/schedule', h('span', null, h('span', { class: 'nav-long' }, 'My '), h('span', { class: 'nav-cap' }, 'schedule'))),
      ),
    );
    items.push(h('li', null, navLink('/events', 'Events')));
    items.push(h('li', { class: 'nav-members' }, navLink('/members', 'Members')));
    if (me.is_admin) items.push(h('li', null, navLink('/admin', 'Admin')));
    items.push(
      h(
        'li',
        null,
        h(
          'a',
          {
            href: '/profile',
            class: 'nav-user',
            'aria-current': isCurrent('/profile') ? 'page' : null,
            title: 'Your profile',
          },
          h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' }, initials(me.name)),
          h('span', { class: 'nav-user-name' }, me.name || 'Profile'),
        ),
      ),
    );
  } else {
    items.push(h('li', null, navLink('/signin', 'Sign in')));
    items.push(h('li', null, navLink('/signup', 'Sign up', 'btn btn-primary btn-sm nav-cta')));
  }
  replace(
    el,
    h(
      'div',
      { class: 'container header-inner' },
      brand(),
      h('nav', { class: 'site-nav', 'aria-label': 'Main' }, h('ul', { class: 'nav-list' }, items)),
    ),
  );
}

export function renderFooter() {
  const el = footer();
  if (!el) return;
  const year = new Date().getFullYear();
  replace(
    el,
    h(
      'div',
      { class: 'container footer-inner' },
      h('p', null, `© ${year} ${communityName()}`),
      h('p', { class: 'footer-powered' }, 'Powered by Podium · self-hosted live sessions'),
    ),
  );
}

/** Show a banner when the server could not be reached; `onRetry` reloads. */
export function renderNotice(onRetry) {
  const el = notice();
  if (!el) return;
  const { configError, meError } = getState();
  const err = configError || meError;
  if (!err) {
    el.replaceChildren();
    el.hidden = true;
    return;
  }
  el.hidden = false;
  replace(
    el,
    h(
      'div',
      { class: 'container' },
      h(
        'div',
        { class: 'banner banner-error', role: 'alert' },
        h(
          'p',
          null,
          h('strong', null, 'Connection problem. '),
          err.message,
        ),
        onRetry
          ? h('button', { type: 'button', class: 'btn btn-secondary btn-sm', onclick: onRetry }, 'Try again')
          : null,
      ),
    ),
  );
}

export function renderChrome(onRetry) {
  renderHeader();
  renderFooter();
  renderNotice(onRetry);
}
