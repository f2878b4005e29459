// First-run setup: create the administrator account with the setup token
// from the URL (/setup?token=...). Shows "already set up" once it is done.

import { h, replace } from '../dom.js';
import { api } from '../api.js';
import { getState, loadConfig, setMe, setConfig, communityName } from '../state.js';
import {
  field,
  accountFields,
  formErrorRegion,
  handleSubmit,
  submitButton,
  authCard,
  requireFilled,
} from '../forms.js';

function done(ctx) {
  ctx.setTitle('Setup complete');
  replace(
    ctx.root,
    authCard({
      title: 'Setup is already complete',
      lead: `${communityName()} already has an administrator account. Sign in to continue.`,
      body: h(
        'div',
        { class: 'actions', id: 'setup-done' },
        h('a', { href: '/signin', class: 'btn btn-primary' }, 'Sign in'),
        h('a', { href: '/', class: 'btn btn-secondary' }, 'Go to home'),
      ),
    }),
  );
}

function unreachable(ctx, err) {
  ctx.setTitle('Setup');
  replace(
    ctx.root,
    authCard({
      title: 'Set up Podium',
      body: [
        h('p', { id: 'form-error', class: 'form-error', role: 'alert' }, `Couldn’t check the setup status. ${err.message}`),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-primary', onclick: () => ctx.redirect(ctx.path + window.location.search) }, 'Try again'),
        ),
      ],
    }),
  );
}

export default async function render(ctx) {
  ctx.setTitle('Setup');
  // Fresh status: setup may have been completed in another tab.
  await loadConfig();
  if (!ctx.isCurrent()) return;
  const { config, configError } = getState();
  if (configError || !config) {
    unreachable(ctx, configError || new Error('No configuration received.'));
    return;
  }
  if (!config.setup_required) {
    done(ctx);
    return;
  }

  const token = (ctx.query.get('token') || '').trim();
  const fields = accountFields({ passwordHint: 'At least 8 characters. Use a strong, unique password: this account can manage everything.' });
  let tokenEl;
  if (token) {
    const input = h('input', { type: 'hidden', name: 'token' });
    input.value = token;
    fields.token = { input, el: input, setError() {}, clearError() {} };
    tokenEl = input;
  } else {
    fields.token = field({
      name: 'token',
      label: 'Setup token',
      autocomplete: 'off',
      spellcheck: 'false',
      autocapitalize: 'off',
      required: true,
      hint: 'Printed in the server log the first time Podium starts.',
    });
    tokenEl = fields.token.el;
  }

  const errorEl = formErrorRegion();
  const button = submitButton('Create administrator account', 'btn-block');
  const form = h(
    'form',
    { id: 'setup-form', class: 'form', novalidate: true, 'aria-labelledby': 'setup-title' },
    errorEl,
    tokenEl,
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
        token: 'Enter the setup token from the server log.',
        name: 'Enter a display name.',
        email: 'Enter your email address.',
        password: 'Choose a password of at least 8 characters.',
      }),
    async onSubmit() {
      try {
        const body = await api.post('/api/setup', {
          token: fields.token.input.value.trim(),
          email: fields.email.input.value.trim(),
          name: fields.name.input.value.trim(),
          password: fields.password.input.value,
        });
        setConfig({ ...config, setup_required: false });
        setMe(body.user);
        // Replace the entry so the token does not linger in history.
        ctx.navigate('/admin', { replace: true });
      } catch (err) {
        if (err.code === 'already_set_up') {
          setConfig({ ...config, setup_required: false });
          done(ctx);
          return;
        }
        throw err;
      }
    },
  });

  const card = authCard({
    title: 'Create the administrator account',
    lead: `Welcome to Podium. This is the first-run setup for ${communityName()}: the account you create here becomes the first administrator.`,
    body: form,
  });
  card.querySelector('h1').id = 'setup-title';
  ctx.root.append(card);
}
