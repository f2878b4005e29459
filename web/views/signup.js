// Sign up. The server answers "check your mail" (202) whether or not the
// email already has an account, so the page says the same in both cases.
// When the community does not ask for a confirmed address
// (config.signup.verify_email false) the page then signs in with the email
// and password just typed: that works for a new account and leads to
// ?next= (same-site path) or /profile. With an invitation
// (?invitation=TOKEN, the link an admin's mail carries) the email is the
// invited one and the server signs the new member in at once (201). While
// sign-up is invite-only (config.signup.open false) the page says so.

import { h } from '../dom.js';
import { api } from '../api.js';
import { getState, setMe, communityName } from '../state.js';
import {
  accountFields,
  formErrorRegion,
  handleSubmit,
  submitButton,
  safeNext,
  authCard,
  requireFilled,
} from '../forms.js';

function checkMail(email, verify) {
  return h(
    'div',
    { id: 'signup-check-mail', class: 'banner banner-info', role: 'status' },
    h('p', null, h('strong', null, 'Check your mail. ')),
    h(
      'p',
      null,
      'We sent a mail to ',
      h('strong', null, email),
      verify
        ? '. Follow its link within 24 hours to confirm your address and sign in.'
        : '. If this address already has an account, the mail says what to do next.',
    ),
    h('p', null, 'Nothing after a few minutes? Check your spam folder, or ', h('a', { href: '/signin' }, 'sign in'), '.'),
  );
}

function inviteOnly() {
  return authCard({
    title: 'Invite-only community',
    lead: `${communityName()} is invite-only: new accounts need an invitation from an admin.`,
    body: h('p', { id: 'signup-closed', class: 'muted' }, 'If you were invited, open the link in your invitation mail.'),
    foot: ['Already have an account? ', h('a', { href: '/signin' }, 'Sign in')],
  });
}

export default async function render(ctx) {
  ctx.setTitle('Sign up');
  const next = safeNext(ctx.query, '/profile');
  const hasNext = ctx.query.has('next');
  const signup = (getState().config && getState().config.signup) || { open: true, verify_email: false };
  const invitation = ctx.query.get('invitation');

  let invitedEmail = null;
  let invitationError = null;
  if (invitation) {
    try {
      invitedEmail = (await api.post('/api/auth/invitation', { token: invitation })).email;
    } catch (err) {
      invitationError = err.message || 'This invitation is not valid.';
    }
    if (!ctx.isCurrent()) return;
  }
  if (!invitedEmail && !signup.open) {
    const card = inviteOnly();
    if (invitationError) {
      card.querySelector('h1').after(h('div', { id: 'invitation-error', class: 'banner banner-error', role: 'alert' }, invitationError));
    }
    ctx.root.append(card);
    return;
  }

  const fields = accountFields();
  const errorEl = formErrorRegion();
  const button = submitButton('Create account', 'btn-block');
  if (invitedEmail) {
    fields.email.input.value = invitedEmail;
    fields.email.input.readOnly = true;
  }

  const form = h(
    'form',
    { id: 'signup-form', class: 'form', novalidate: true, 'aria-labelledby': 'signup-title' },
    invitationError ? h('div', { id: 'invitation-error', class: 'banner banner-error', role: 'alert' }, invitationError) : null,
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
      const email = fields.email.input.value.trim();
      const password = fields.password.input.value;
      const body = await api.post('/api/auth/signup', {
        email,
        name: fields.name.input.value.trim(),
        password,
        ...(invitedEmail ? { invitation } : {}),
      });
      if (body && body.user) {
        setMe(body.user);
        ctx.navigate(next, { replace: true });
        return;
      }
      if (!signup.verify_email) {
        try {
          const signedIn = await api.post('/api/auth/signin', { email, password });
          setMe(signedIn.user);
          ctx.navigate(next, { replace: true });
          return;
        } catch {
          // Not a new account (or not yet): the mail tells its owner.
        }
      }
      if (!ctx.isCurrent()) return;
      form.replaceWith(checkMail(email, signup.verify_email));
    },
  });

  const signinHref = hasNext ? `/signin?next=${encodeURIComponent(next)}` : '/signin';
  const card = authCard({
    title: invitedEmail ? 'You’re invited' : 'Create your account',
    lead: invitedEmail
      ? `Create your account to join ${communityName()}.`
      : `Join ${communityName()} to register for sessions, present and take part live.`,
    body: form,
    foot: ['Already have an account? ', h('a', { href: signinHref }, 'Sign in')],
  });
  card.querySelector('h1').id = 'signup-title';
  ctx.root.append(card);
}
