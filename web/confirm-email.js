// "Confirm your email" notice with a "Send the link again" button, shown
// where the server says the member must confirm their address first
// (`me.must_verify_email`, or a registration choice with code
// `email_unverified`). The server limits how often the link is sent.

import { h } from './dom.js';
import { api } from './api.js';

export function confirmEmailNotice(message) {
  const status = h('p', { class: 'confirm-email-status', id: 'confirm-email-status', role: 'status' });
  const button = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', id: 'confirm-email-resend' }, 'Send the link again');
  button.addEventListener('click', async () => {
    button.disabled = true;
    status.classList.remove('is-error');
    status.textContent = 'Sending…';
    try {
      await api.post('/api/me/verify', {});
      status.textContent = 'Sent. Follow the link in the mail within 24 hours.';
    } catch (err) {
      status.classList.add('is-error');
      status.textContent = err.message || 'The link could not be sent. Try again later.';
    } finally {
      button.disabled = false;
    }
  });
  return h(
    'div',
    { class: 'banner banner-warning confirm-email', id: 'confirm-email', role: 'note' },
    message
      ? h('p', null, message)
      : h('p', null, h('strong', null, 'Confirm your email address. '), 'Follow the link we mailed you before you register for sessions.'),
    h('div', { class: 'confirm-email-actions' }, button, status),
  );
}
