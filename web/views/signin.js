// Sign in. Honours ?next= (same-site paths only).

import { h } from '../dom.js';
import { api } from '../api.js';
import { getState, setMe, communityName } from '../state.js';
import {
  field,
  passwordField,
  formErrorRegion,
  handleSubmit,
  submitButton,
  safeNext,
  authCard,
  requireFilled,
} from '../forms.js';

export default async function render(ctx) {
  ctx.setTitle('Sign in');
  const { me } = getState();
  const next = safeNext(ctx.query, '/profile');
  const hasNext = ctx.query.has('next');

  const fields = {
    email: field({
      name: 'email',
      label: 'Email',
      type: 'email',
      autocomplete: 'username',
      inputmode: 'email',
      spellcheck: 'false',
      autocapitalize: 'off',
      required: true,
    }),
    password: passwordField({
      name: 'password',
      label: 'Password',
      autocomplete: 'current-password',
      required: true,
    }),
  };
  const errorEl = formErrorRegion();
  const button = submitButton('Sign in', 'btn-block');

  const form = h(
    'form',
    { id: 'signin-form', class: 'form', novalidate: true, 'aria-labelledby': 'signin-title' },
    errorEl,
    fields.email.el,
    fields.password.el,
    h('p', { class: 'forgot' }, h('a', { href: '/reset', id: 'forgot-link' }, 'Forgot password?')),
    button,
  );

  handleSubmit(form, {
    fields,
    errorEl,
    button,
    busyLabel: 'Signing in…',
    validate: () =>
      requireFilled(fields, {
        email: 'Enter your email address.',
        password: 'Enter your password.',
      }),
    async onSubmit() {
      const body = await api.post('/api/auth/signin', {
        email: fields.email.input.value.trim(),
        password: fields.password.input.value,
      });
      setMe(body.user);
      ctx.navigate(next, { replace: true });
    },
  });

  const signupHref = hasNext ? `/signup?next=${encodeURIComponent(next)}` : '/signup';
  const notice = me
    ? h(
        'p',
        { class: 'banner banner-info banner-compact' },
        'You’re signed in as ',
        h('strong', null, me.name),
        '. Signing in again switches account.',
      )
    : null;

  const card = authCard({
    title: 'Sign in',
    lead: hasNext && !me ? 'Please sign in to continue.' : `Welcome back to ${communityName()}.`,
    body: [notice, form],
    foot: ['New here? ', h('a', { href: signupHref }, 'Create an account')],
  });
  card.querySelector('h1').id = 'signin-title';
  ctx.root.append(card);
}
