// Sign up. On success goes to ?next= (same-site path) or /profile.

import { h } from '../dom.js';
import { api } from '../api.js';
import { setMe, communityName } from '../state.js';
import {
  accountFields,
  formErrorRegion,
  handleSubmit,
  submitButton,
  safeNext,
  authCard,
  requireFilled,
} from '../forms.js';

export default async function render(ctx) {
  ctx.setTitle('Sign up');
  const next = safeNext(ctx.query, '/profile');
  const hasNext = ctx.query.has('next');

  const fields = accountFields();
  const errorEl = formErrorRegion();
  const button = submitButton('Create account', 'btn-block');

  const form = h(
    'form',
    { id: 'signup-form', class: 'form', novalidate: true, 'aria-labelledby': 'signup-title' },
    errorEl,
    fields.name.el,
    fields.email.el,
    fields.password.el,
    button,
  );

  handleSubmit(form, {
    fields,
    errorEl,
    button,
    busyLabel: 'Creating account…',
    validate: () =>
      requireFilled(fields, {
        name: 'Enter a display name.',
        email: 'Enter your email address.',
        password: 'Choose a password of at least 8 characters.',
      }),
    async onSubmit() {
      const body = await api.post('/api/auth/signup', {
        email: fields.email.input.value.trim(),
        name: fields.name.input.value.trim(),
        password: fields.password.input.value,
      });
      setMe(body.user);
      ctx.navigate(next, { replace: true });
    },
  });

  const signinHref = hasNext ? `/signin?next=${encodeURIComponent(next)}` : '/signin';
  const card = authCard({
    title: 'Create your account',
    lead: `Join ${communityName()} to register for sessions, present and take part live.`,
    body: form,
    foot: ['Already have an account? ', h('a', { href: signinHref }, 'Sign in')],
  });
  card.querySelector('h1').id = 'signup-title';
  ctx.root.append(card);
}
