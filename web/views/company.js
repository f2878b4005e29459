// A company's page within an event (/events/{id}/companies/{cid}): profile
// (logo, description, website, location), FAQs as an accordion, open jobs
// (links open in a new tab) and its sessions with the same one-click
// registration as the Program. Its speakers and the organizers get Edit and
// Book links (the server's `can`).
// Ids: #company-name, #company-website, #company-faqs (details.faq),
// #company-jobs (li.job), #company-sessions, #edit-company, #book-session.

import { h, icon, replace } from '../dom.js';
import { api } from '../api.js';
import { ICONS, emptyState, safeHttpUrl } from '../sessions-ui.js';
import { companyLogo, companyPath, eventDates, eventPath, jobKindLabel, loadFailed, requireMember } from '../events-ui.js';
import { loadMine, programItem } from './event.js';

export default async function render(ctx) {
  const me = await requireMember(ctx);
  if (!me) return;
  const cid = ctx.params.cid;
  let data;
  try {
    data = await api.get(`/api/companies/${encodeURIComponent(cid)}`, { signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    loadFailed(ctx, err, 'Company');
    return;
  }
  if (!ctx.isCurrent()) return;
  const { company, event } = data;
  if (String(company.event_id) !== String(ctx.params.id)) {
    ctx.redirect(companyPath(company.event_id, company.id));
    return;
  }
  ctx.setTitle(`${company.name} · ${event.name}`);
  const can = company.can || {};
  const website = safeHttpUrl(company.website);

  const sessionsBox = h('div', { class: 'company-sessions-body' });
  const errorEl = h('div', { class: 'form-error', role: 'alert', id: 'form-error' });
  const status = h('div', { class: 'form-status', role: 'status' });

  ctx.root.append(
    h(
      'div',
      { class: 'container company-page' },
      h('a', { href: eventPath(event.id, 'companies'), class: 'back-link' }, icon(ICONS.arrowLeft, 'icon icon-sm'), event.name),
      h(
        'header',
        { class: 'company-hero card' },
        companyLogo(company, 'xl'),
        h(
          'div',
          { class: 'company-hero-text' },
          h('h1', { class: 'page-title', id: 'company-name' }, company.name),
          h(
            'p',
            { class: 'company-hero-meta' },
            company.location ? h('span', null, icon(ICONS.globe, 'icon icon-sm'), company.location) : null,
            website
              ? h('a', { href: website, target: '_blank', rel: 'noopener noreferrer', id: 'company-website', class: 'company-website' }, icon(ICONS.external, 'icon icon-sm'), new URL(website).host)
              : null,
            h('span', null, icon(ICONS.calendar, 'icon icon-sm'), `${event.name} · ${eventDates(event)}`),
          ),
        ),
        h(
          'div',
          { class: 'company-hero-actions' },
          can.book ? h('a', { href: companyPath(event.id, company.id, '/book'), class: 'btn btn-primary btn-sm', id: 'book-session' }, icon(ICONS.plus, 'icon icon-sm'), 'Book a session') : null,
          can.edit ? h('a', { href: companyPath(event.id, company.id, '/edit'), class: 'btn btn-secondary btn-sm', id: 'edit-company' }, icon(ICONS.edit, 'icon icon-sm'), 'Edit profile') : null,
        ),
      ),
      h(
        'div',
        { class: 'company-layout' },
        h(
          'div',
          { class: 'company-main' },
          company.description
            ? h('section', { class: 'card company-section' }, h('h2', { class: 'card-title' }, 'About'), h('p', { class: 'pre-line company-about' }, company.description))
            : null,
          h(
            'section',
            { class: 'card company-section', 'aria-labelledby': 'sessions-title' },
            h('h2', { class: 'card-title', id: 'sessions-title' }, 'Sessions'),
            errorEl,
            status,
            sessionsBox,
          ),
          h('section', { class: 'card company-section', 'aria-labelledby': 'faqs-title' }, h('h2', { class: 'card-title', id: 'faqs-title' }, 'FAQs'), faqList(company.faqs || [])),
        ),
        h('aside', { class: 'company-aside' }, h('section', { class: 'card company-section', 'aria-labelledby': 'jobs-title' }, h('h2', { class: 'card-title', id: 'jobs-title' }, 'Open jobs'), jobList(company.jobs || []))),
      ),
    ),
  );

  let sessions = data.sessions || [];
  let busy = false;
  async function act(button, work) {
    if (busy) return;
    busy = true;
    errorEl.replaceChildren();
    status.replaceChildren();
    button.disabled = true;
    try {
      const message = await work();
      sessions = (await api.get(`/api/companies/${encodeURIComponent(cid)}`, { signal: ctx.signal })).sessions || [];
      await draw();
      if (message) status.replaceChildren(message);
    } catch (err) {
      if (err.name === 'AbortError') return;
      errorEl.replaceChildren(err.message);
      button.disabled = false;
    } finally {
      busy = false;
    }
  }
  async function draw() {
    const mine = await loadMine(ctx.signal);
    if (!ctx.isCurrent()) return;
    const shown = sessions.filter((s) => s.status !== 'cancelled');
    replace(
      sessionsBox,
      shown.length
        ? h('ul', { class: 'program-list', id: 'company-sessions' }, shown.map((s) => programItem(s, mine.get(s.id), act, { withDay: true })))
        : emptyState({ id: 'company-sessions-empty', title: 'No sessions booked yet', text: can.book ? 'Book a slot to add your first session.' : 'Check back soon.' }),
    );
  }
  try {
    await draw();
  } catch (err) {
    if (err.name !== 'AbortError') errorEl.replaceChildren(err.message);
  }
}

export function faqList(faqs, { id = 'company-faqs' } = {}) {
  if (!faqs.length) return h('p', { class: 'muted empty-inline', id: `${id}-empty` }, 'No FAQs yet.');
  return h(
    'div',
    { class: 'faq-list', id },
    faqs.map((f, i) =>
      h(
        'details',
        { class: 'faq', open: i === 0 ? true : null },
        h('summary', { class: 'faq-q' }, h('span', null, f.question), icon(ICONS.down, 'icon icon-sm faq-chevron')),
        h('p', { class: 'faq-a pre-line' }, f.answer),
      ),
    ),
  );
}

export function jobList(jobs, { id = 'company-jobs' } = {}) {
  if (!jobs.length) return h('p', { class: 'muted empty-inline', id: `${id}-empty` }, 'No open jobs listed.');
  return h(
    'ul',
    { class: 'job-list', id },
    jobs.map((j) => {
      const url = safeHttpUrl(j.url);
      return h(
        'li',
        { class: 'job' },
        h('h3', { class: 'job-title' }, url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, j.title, icon(ICONS.external, 'icon icon-xs')) : j.title),
        h('p', { class: 'job-meta small' }, h('span', { class: 'badge badge-job' }, jobKindLabel(j.kind)), j.location ? h('span', { class: 'muted' }, j.location) : null),
        j.description ? h('p', { class: 'job-desc small pre-line' }, j.description) : null,
      );
    }),
  );
}
