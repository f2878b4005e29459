// Admin → Invitations tab (/admin?tab=invitations): invite someone by email
// (the server mails a link that works once, for 7 days, and opens sign-up
// with the address filled in), the open invitations, and "Withdraw".
// Whether sign-up is open or invite-only is the server's setting.

import { h, replace, formatDate } from '../dom.js';
import { api } from '../api.js';
import { getState } from '../state.js';
import { field, formErrorRegion, formStatusRegion, handleSubmit, submitButton, showFormError } from '../forms.js';

export async function renderInvitationsTab(ctx, panel) {
  const signup = (getState().config && getState().config.signup) || { open: true };
  const summary = h(
    'p',
    { class: 'panel-summary muted', id: 'invitations-summary' },
    signup.open
      ? 'Sign-up is open to everyone; an invitation still saves the invited person confirming their address.'
      : 'Sign-up is invite-only: new members need an invitation.',
  );
  const fields = {
    email: field({ name: 'email', label: 'Email to invite', type: 'email', autocomplete: 'off', spellcheck: 'false', required: true }),
  };
  const errorEl = formErrorRegion();
  const statusEl = formStatusRegion();
  errorEl.id = 'invite-form-error';
  statusEl.id = 'invite-form-status';
  const button = submitButton('Send invitation');
  const form = h('form', { id: 'invite-form', class: 'form invite-form', novalidate: true }, fields.email.el, button);
  const listEl = h('div', { class: 'panel-body', id: 'invitations-list' }, h('p', { class: 'muted loading' }, 'Loading invitations…'));

  replace(
    panel,
    h(
      'section',
      { class: 'card panel', 'aria-labelledby': 'invitations-title' },
      h('div', { class: 'panel-head' }, h('div', null, h('h2', { class: 'card-title', id: 'invitations-title' }, 'Invitations'), summary)),
      errorEl,
      statusEl,
      form,
      listEl,
    ),
  );

  async function load() {
    let list;
    try {
      list = (await api.get('/api/admin/invitations', { signal: ctx.signal })).invitations || [];
    } catch (err) {
      if (err.name === 'AbortError' || !ctx.isCurrent()) return;
      replace(listEl, h('p', { class: 'form-error', role: 'alert' }, `Couldn’t load the invitations. ${err.message}`));
      return;
    }
    if (!ctx.isCurrent()) return;
    if (!list.length) {
      replace(listEl, h('p', { class: 'muted empty-inline', id: 'invitations-empty' }, 'No open invitations.'));
      return;
    }
    const rows = list.map((inv) => {
      const withdraw = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', dataset: { invitationId: inv.id } }, 'Withdraw');
      withdraw.addEventListener('click', async () => {
        withdraw.disabled = true;
        showFormError(errorEl, '');
        statusEl.replaceChildren();
        try {
          await api.del(`/api/admin/invitations/${encodeURIComponent(inv.id)}`);
          statusEl.replaceChildren(`The invitation for ${inv.email} was withdrawn.`);
          await load();
        } catch (err) {
          withdraw.disabled = false;
          showFormError(errorEl, `Couldn’t withdraw it. ${err.message}`);
        }
      });
      return h(
        'tr',
        { dataset: { invitationId: inv.id } },
        h('th', { scope: 'row', class: 'break' }, inv.email),
        h('td', null, formatDate(inv.created_at) || '—'),
        h('td', null, formatDate(inv.expires_at) || '—'),
        h('td', { class: 'cell-actions' }, withdraw),
      );
    });
    replace(
      listEl,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table', id: 'invitations-table' },
          h('caption', { class: 'visually-hidden' }, 'Open invitations'),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Email'), h('th', { scope: 'col' }, 'Sent'), h('th', { scope: 'col' }, 'Expires'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
          h('tbody', null, rows),
        ),
      ),
    );
  }

  handleSubmit(form, {
    fields,
    errorEl,
    statusEl,
    button,
    busyLabel: 'Sending…',
    validate: () => (fields.email.input.value.trim() ? [] : [{ field: 'email', message: 'Enter the email to invite.' }]),
    async onSubmit() {
      const res = await api.post('/api/admin/invitations', { email: fields.email.input.value.trim() });
      fields.email.input.value = '';
      statusEl.replaceChildren(`Invitation sent to ${res.invitation.email}.`);
      await load();
    },
  });

  await load();
}
