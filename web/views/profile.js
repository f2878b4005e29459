// Profile: the signed-in user's own name, bio and links; email, badges and
// sign out; change password, download my data and delete my account.
// Signed-out visitors are sent to /signin?next=/profile.

import { confirmEmailNotice } from '../confirm-email.js';
import { h, icon, replace, uniqueId, charCount, formatDate, initials } from '../dom.js';
import { api } from '../api.js';
import { setMe, signOut, loadMe, getState } from '../state.js';
import {
  field,
  passwordField,
  formErrorRegion,
  formStatusRegion,
  handleSubmit,
  submitButton,
  reportError,
  showFormError,
} from '../forms.js';

const BIO_MAX = 500;
const LINKS_MAX = 5;

function badges(user) {
  const list = [];
  if (user.is_admin) list.push(h('span', { class: 'badge badge-admin' }, 'Admin'));
  if (user.is_premium) list.push(h('span', { class: 'badge badge-premium' }, 'Premium'));
  if (!list.length) list.push(h('span', { class: 'badge' }, 'Member'));
  return h('div', { class: 'badges' }, list);
}

/** The links editor: up to LINKS_MAX rows of URL inputs named "links". */
function linksEditor(initial) {
  const legendId = uniqueId('links-legend');
  const hintId = uniqueId('links-hint');
  const errorId = uniqueId('links-error');
  const rows = h('ol', { class: 'link-rows' });
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  const addButton = h('button', { type: 'button', class: 'btn btn-secondary btn-sm' }, '+ Add link');
  const countNote = h('span', { class: 'field-hint link-count' });

  const inputs = () => [...rows.querySelectorAll('input[name="links"]')];

  function describe(input) {
    const ids = [hintId];
    if (!error.hidden) ids.push(errorId);
    input.setAttribute('aria-describedby', ids.join(' '));
  }

  function refresh() {
    const list = inputs();
    list.forEach((input, i) => {
      input.setAttribute('aria-label', `Link ${i + 1}`);
      const remove = input.closest('li').querySelector('.link-remove');
      remove.setAttribute('aria-label', `Remove link ${i + 1}`);
    });
    addButton.disabled = list.length >= LINKS_MAX;
    countNote.textContent =
      list.length >= LINKS_MAX ? `You’ve reached the limit of ${LINKS_MAX} links.` : `${list.length} of ${LINKS_MAX}`;
  }

  function addRow(value = '', focus = false) {
    if (inputs().length >= LINKS_MAX) return;
    const input = h('input', {
      type: 'url',
      name: 'links',
      class: 'input',
      inputmode: 'url',
      autocomplete: 'url',
      spellcheck: 'false',
      autocapitalize: 'off',
      placeholder: 'https://example.com',
    });
    input.value = value;
    input.addEventListener('input', clearError);
    describe(input);
    const row = h(
      'li',
      { class: 'link-row' },
      input,
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn-ghost btn-sm link-remove',
          title: 'Remove this link',
          onclick() {
            const list = inputs();
            const index = list.indexOf(input);
            row.remove();
            refresh();
            const rest = inputs();
            (rest[Math.min(index, rest.length - 1)] || addButton).focus();
          },
        },
        icon(['M18 6 6 18', 'M6 6l12 12'], 'icon icon-sm'),
        h('span', { class: 'link-remove-text' }, 'Remove'),
      ),
    );
    rows.append(row);
    refresh();
    if (focus) input.focus();
  }

  function setError(message) {
    error.replaceChildren(message);
    error.hidden = false;
    for (const input of inputs()) {
      input.setAttribute('aria-invalid', 'true');
      describe(input);
    }
  }
  function clearError() {
    if (error.hidden) return;
    error.replaceChildren();
    error.hidden = true;
    for (const input of inputs()) {
      input.removeAttribute('aria-invalid');
      describe(input);
    }
  }

  addButton.addEventListener('click', () => addRow('', true));
  for (const link of initial) addRow(link);
  if (!initial.length) addRow();

  const el = h(
    'fieldset',
    { class: 'field fieldset', 'aria-describedby': hintId },
    h('legend', { class: 'label', id: legendId }, 'Links', h('span', { class: 'label-optional' }, ' (optional)')),
    h('p', { class: 'field-hint', id: hintId }, `Up to ${LINKS_MAX} links, such as your website or social profiles. Start each with https://.`),
    rows,
    h('div', { class: 'link-actions' }, addButton, countNote),
    error,
  );

  return {
    el,
    get input() {
      return inputs()[0] || addButton;
    },
    values: () => inputs().map((i) => i.value.trim()).filter(Boolean),
    reset(links) {
      rows.replaceChildren();
      for (const link of links) addRow(link);
      if (!links.length) addRow();
    },
    setError,
    clearError,
  };
}

function header(user) {
  return h(
    'div',
    { class: 'profile-head' },
    h('span', { class: 'avatar avatar-lg', 'aria-hidden': 'true' }, initials(user.name)),
    h(
      'div',
      { class: 'profile-head-text' },
      h('h1', { class: 'page-title' }, user.name || 'Your profile'),
      h(
        'p',
        { class: 'muted' },
        user.created_at ? `Member since ${formatDate(user.created_at, { month: 'long', year: 'numeric' })}` : 'Member',
      ),
      badges(user),
    ),
  );
}

/** Change password: the current one and a new one; the server signs out
 *  every other browser. */
function passwordCard() {
  const fields = {
    current_password: passwordField({
      name: 'current_password',
      label: 'Current password',
      autocomplete: 'current-password',
      required: true,
    }),
    new_password: passwordField({
      name: 'new_password',
      label: 'New password',
      autocomplete: 'new-password',
      required: true,
      hint: 'At least 8 characters. Other browsers signed in to your account will be signed out.',
    }),
  };
  const errorEl = formErrorRegion();
  const statusEl = formStatusRegion();
  errorEl.id = 'password-form-error';
  statusEl.id = 'password-form-status';
  const button = submitButton('Change password');
  const form = h(
    'form',
    { id: 'password-form', class: 'form', novalidate: true, 'aria-labelledby': 'password-form-title' },
    h('h2', { class: 'card-title', id: 'password-form-title' }, 'Change password'),
    errorEl,
    fields.current_password.el,
    fields.new_password.el,
    h('div', { class: 'form-actions' }, button, statusEl),
  );
  handleSubmit(form, {
    fields,
    errorEl,
    statusEl,
    button,
    busyLabel: 'Changing…',
    validate: () => {
      const problems = [];
      if (!fields.current_password.input.value) {
        problems.push({ field: 'current_password', message: 'Enter your current password.' });
      }
      if (!fields.new_password.input.value) {
        problems.push({ field: 'new_password', message: 'Enter a new password.' });
      }
      return problems;
    },
    async onSubmit() {
      await api.post('/api/me/password', {
        current_password: fields.current_password.input.value,
        new_password: fields.new_password.input.value,
      });
      fields.current_password.input.value = '';
      fields.new_password.input.value = '';
      statusEl.replaceChildren('Password changed. Other browsers are signed out.');
    },
  });
  return h('div', { class: 'card' }, form);
}

/** Download my data and delete my account (a confirm step asks for the
 *  password; the server decides whether it may go, e.g. not the last admin). */
function dataAndDeletion(ctx) {
  const download = h(
    'a',
    { class: 'btn btn-secondary', id: 'export-link', href: '/api/me/export', download: 'podium-my-data.json' },
    'Download my data',
  );

  const password = passwordField({
    name: 'password',
    label: 'Your password',
    autocomplete: 'current-password',
    required: true,
  });
  const fields = { password };
  const errorEl = formErrorRegion();
  errorEl.id = 'delete-form-error';
  const button = submitButton('Delete my account', 'btn-danger');
  const cancel = h('button', { type: 'button', class: 'btn btn-ghost' }, 'Keep my account');
  const confirmForm = h(
    'form',
    { id: 'delete-form', class: 'form danger-zone', novalidate: true, hidden: true, 'aria-labelledby': 'delete-title' },
    h('h3', { class: 'danger-title', id: 'delete-title' }, 'Delete your account?'),
    h(
      'p',
      { class: 'field-hint' },
      'You will be signed out everywhere and cannot sign in again. Your email is freed; your name becomes “Deleted member” in rosters, chat and questions. This cannot be undone.',
    ),
    errorEl,
    password.el,
    h('div', { class: 'form-actions' }, button, cancel),
  );
  const start = h('button', { type: 'button', class: 'btn btn-danger-outline', id: 'delete-start' }, 'Delete account…');
  start.addEventListener('click', () => {
    confirmForm.hidden = false;
    start.hidden = true;
    password.input.focus();
  });
  cancel.addEventListener('click', () => {
    confirmForm.hidden = true;
    start.hidden = false;
    password.input.value = '';
    password.clearError();
    showFormError(errorEl, '');
    start.focus();
  });
  handleSubmit(confirmForm, {
    fields,
    errorEl,
    button,
    busyLabel: 'Deleting…',
    validate: () => (password.input.value ? [] : [{ field: 'password', message: 'Enter your password to confirm.' }]),
    async onSubmit() {
      await api.delWith('/api/me', { password: password.input.value });
      setMe(null);
      ctx.navigate('/', { replace: true });
    },
  });

  return h(
    'div',
    { class: 'account-data' },
    h('h3', { class: 'label' }, 'Your data'),
    h('p', { class: 'field-hint' }, 'Your profile, registrations, waitlist places, chat messages and questions, as a JSON file.'),
    download,
    start,
    confirmForm,
  );
}

function loadError(ctx, err) {
  replace(
    ctx.root,
    h(
      'div',
      { class: 'container narrow' },
      h(
        'div',
        { class: 'card state-card' },
        h('h1', { class: 'state-title' }, 'Your profile'),
        h('p', { id: 'form-error', class: 'form-error', role: 'alert' }, `Couldn’t load your profile. ${err.message}`),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-primary', onclick: () => ctx.navigate('/profile', { replace: true }) }, 'Try again'),
        ),
      ),
    ),
  );
}

export default async function render(ctx) {
  ctx.setTitle('Profile');
  ctx.root.append(h('div', { class: 'container' }, h('p', { class: 'muted loading' }, 'Loading your profile…')));

  // Always fetch a fresh copy: the profile is the source of truth for editing.
  const me = await loadMe();
  if (!ctx.isCurrent()) return;
  const { meError } = getState();
  if (meError) {
    loadError(ctx, meError);
    return;
  }
  if (!me) {
    ctx.redirect('/signin?next=/profile');
    return;
  }

  let headEl = header(me);
  const fields = {
    name: field({
      name: 'name',
      label: 'Display name',
      autocomplete: 'name',
      required: true,
      value: me.name,
      hint: 'Shown to other members on sessions you join.',
    }),
  };

  const countId = uniqueId('bio-count');
  const counter = h('p', { class: 'char-count', id: countId });
  fields.bio = field({
    name: 'bio',
    label: 'Short bio',
    optional: true,
    multiline: true,
    rows: 5,
    value: me.bio || '',
    hint: 'A few words about you and what you like to talk about.',
    describedBy: countId,
    counter,
  });
  const updateCount = () => {
    const n = charCount(fields.bio.input.value);
    const over = n - BIO_MAX;
    counter.textContent = over > 0 ? `${n} / ${BIO_MAX} · ${over} over the limit` : `${n} / ${BIO_MAX}`;
    counter.classList.toggle('is-over', over > 0);
    counter.classList.toggle('is-near', over <= 0 && n >= BIO_MAX - 50);
  };
  fields.bio.input.addEventListener('input', updateCount);
  updateCount();

  fields.links = linksEditor(Array.isArray(me.links) ? me.links : []);

  const errorEl = formErrorRegion();
  const statusEl = formStatusRegion();
  const button = submitButton('Save changes');

  const form = h(
    'form',
    { id: 'profile-form', class: 'form', novalidate: true, 'aria-labelledby': 'profile-form-title' },
    h('h2', { class: 'card-title', id: 'profile-form-title' }, 'Public profile'),
    errorEl,
    fields.name.el,
    fields.bio.el,
    fields.links.el,
    h('div', { class: 'form-actions' }, button, statusEl),
  );

  handleSubmit(form, {
    fields,
    errorEl,
    statusEl,
    button,
    busyLabel: 'Saving…',
    validate() {
      const problems = [];
      if (!fields.name.input.value.trim()) problems.push({ field: 'name', message: 'Enter a display name.' });
      if (charCount(fields.bio.input.value) > BIO_MAX) {
        problems.push({ field: 'bio', message: `Your bio can be at most ${BIO_MAX} characters.` });
      }
      return problems;
    },
    async onSubmit() {
      const body = await api.patch('/api/me', {
        name: fields.name.input.value.trim(),
        bio: fields.bio.input.value.trim(),
        links: fields.links.values(),
      });
      const user = body.user;
      setMe(user);
      fields.name.input.value = user.name;
      fields.bio.input.value = user.bio || '';
      updateCount();
      fields.links.reset(Array.isArray(user.links) ? user.links : []);
      const nextHead = header(user);
      headEl.replaceWith(nextHead);
      headEl = nextHead;
      statusEl.replaceChildren('Profile saved.');
    },
  });

  const signOutButton = h('button', { type: 'button', class: 'btn btn-secondary', id: 'signout-button' }, 'Sign out');
  signOutButton.addEventListener('click', async () => {
    signOutButton.disabled = true;
    showFormError(errorEl, '');
    try {
      await signOut();
      ctx.navigate('/', { replace: true });
    } catch (err) {
      signOutButton.disabled = false;
      reportError(err, { errorEl });
    }
  });

  const account = h(
    'aside',
    { class: 'card account-card', 'aria-labelledby': 'account-title' },
    h('h2', { class: 'card-title', id: 'account-title' }, 'Account'),
    h(
      'dl',
      { class: 'details' },
      h('div', null, h('dt', null, 'Email'), h('dd', { class: 'break' }, me.email || '—')),
      h('div', null, h('dt', null, 'Membership'), h('dd', null, badges(me))),
    ),
    h('p', { class: 'field-hint' }, 'Your email address is private. Only you can see it.'),
    h('div', { class: 'account-actions' }, signOutButton),
    dataAndDeletion(ctx),
  );

  replace(
    ctx.root,
    h(
      'div',
      { class: 'container' },
      headEl,
      me.must_verify_email ? confirmEmailNotice() : null,
      ctx.query.get('confirmed') && me.email_verified
        ? h('div', { class: 'banner banner-success', id: 'email-confirmed', role: 'status' }, 'Your email address is confirmed.')
        : null,
      h(
        'div',
        { class: 'profile-grid' },
        h('div', { class: 'profile-main' }, h('div', { class: 'card' }, form), passwordCard()),
        account,
      ),
    ),
  );
}
