// Password reset. Without ?token= it asks for the email and mails a link
// (the server answers the same whether or not an account has that email);
// with ?token= (the mailed link) it asks for the new password, then the
// server signs this browser in.

import { h } from '../dom.js';
import { api } from '../api.js';
import { setMe } from '../state.js';
import {
  field,
  passwordField,
  formErrorRegion,
  handleSubmit,
  submitButton,
  authCard,
  requireFilled,
} from '../forms.js';

function askForEmail(ctx) {
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
  };
  const errorEl = formErrorRegion();
  const button = submitButton('Send reset link', 'btn-block');
  const form = h(
    'form',
    { id: 'reset-request-form', class: 'form', novalidate: true, 'aria-labelledby': 'reset-title' },
    errorEl,
    fields.email.el,
    button,
  );
  const card = authCard({
    title: 'Reset your password',
    lead: 'Enter the email of your account. We’ll send you a link to choose a new password.',
    body: [form],
    foot: ['Remembered it? ', h('a', { href: '/signin' }, 'Sign in')],
  });
  card.querySelector('h1').id = 'reset-title';
  handleSubmit(form, {
    fields,
    errorEl,
    button,
    busyLabel: 'Sending…',
    validate: () => requireFilled(fields, { email: 'Enter your email address.' }),
    async onSubmit() {
      const email = fields.email.input.value.trim();
      await api.post('/api/auth/reset', { email });
      form.replaceWith(
        h(
          'div',
          { id: 'reset-sent', class: 'banner banner-info', role: 'status' },
          h(
            'p',
            null,
            'If an account uses ',
            h('strong', null, email),
            ', a reset link is on its way. It works once, for one hour. Check your spam folder if it doesn’t arrive.',
          ),
        ),
      );
    },
  });
  ctx.root.append(card);
}

function askForPassword(ctx, token) {
  const fields = {
    password: passwordField({
      name: 'password',
      label: 'New password',
      autocomplete: 'new-password',
      required: true,
      hint: 'At least 8 characters. Every browser signed in to your account will be signed out.',
    }),
  };
  const errorEl = formErrorRegion();
  const button = submitButton('Set new password', 'btn-block');
  const form = h(
    'form',
    { id: 'reset-confirm-form', class: 'form', novalidate: true, 'aria-labelledby': 'reset-title' },
    errorEl,
    fields.password.el,
    button,
  );
  const card = authCard({
    title: 'Choose a new password',
    lead: 'Then you’re signed in here.',
    body: [form],
    foot: ['Link expired? ', h('a', { href: '/reset' }, 'Ask for a new one')],
  });
  card.querySelector('h1').id = 'reset-title';
  handleSubmit(form, {
    fields,
    errorEl,
    button,
    busyLabel: 'Saving…',
    validate: () => requireFilled(fields, { password: 'Enter a new password.' }),
    async onSubmit() {
      const body = await api.post('/api/auth/reset/confirm', {
        token,
        password: fields.password.input.value,
      });
      setMe(body.user);
      ctx.navigate('/profile', { replace: true });
    },
  });
  ctx.root.append(card);
}

export default async function render(ctx) {
  ctx.setTitle('Reset password');
  const token = ctx.query.get('token');
  if (token) askForPassword(ctx, token);
  else askForEmail(ctx);
}
