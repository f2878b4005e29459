// Fallback for unknown paths.

import { h } from '../dom.js';

export default async function render(ctx) {
  ctx.setTitle('Page not found');
  ctx.root.append(
    h(
      'div',
      { class: 'container narrow' },
      h(
        'div',
        { class: 'card state-card' },
        h('p', { class: 'state-code', 'aria-hidden': 'true' }, '404'),
        h('h1', { class: 'state-title' }, 'Page not found'),
        h(
          'p',
          { class: 'muted' },
          'We couldn’t find ',
          h('code', { class: 'path' }, ctx.path),
          '. It may have moved, or the link may be mistyped.',
        ),
        h('div', { class: 'actions' }, h('a', { href: '/', class: 'btn btn-primary' }, 'Go to home')),
      ),
    ),
  );
}
