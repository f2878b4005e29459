// The link of a confirmation mail (/verify?token=): one button confirms the
// address and signs this browser in (a button, so a mail scanner that only
// opens links does not spend the token).

import { h } from '../dom.js';
import { api } from '../api.js';
import { setMe } from '../state.js';
import { formErrorRegion, handleSubmit, submitButton, authCard } from '../forms.js';

export default async function render(ctx) {
  ctx.setTitle('Confirm your email');
  const token = ctx.query.get('token') || '';
  const errorEl = formErrorRegion();
  const button = submitButton('Confirm my email', 'btn-block');
  const form = h('form', { id: 'verify-form', class: 'form', novalidate: true, 'aria-labelledby': 'verify-title' }, errorEl, button);
  handleSubmit(form, {
    fields: {},
    errorEl,
    button,
    busyLabel: 'Confirming…',
    async onSubmit() {
      const body = await api.post('/api/auth/verify', { token });
      setMe(body.user);
      ctx.navigate('/profile?confirmed=1', { replace: true });
    },
  });
  const card = authCard({
    title: 'Confirm your email',
    lead: 'One click and your address is confirmed; you’re signed in here.',
    body: form,
    foot: ['Link expired? ', h('a', { href: '/signin' }, 'Sign in'), ' and ask for a new one on your profile.'],
  });
  card.querySelector('h1').id = 'verify-title';
  ctx.root.append(card);
}
