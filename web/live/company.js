// Company tab (event sessions only): the host company from the snapshot's
// `company` — logo, description, website, location, FAQs (an accordion) and
// jobs, whose links open in a new tab (rel=noopener). Hidden when the
// snapshot's `company` is null (community sessions).
// Ids: #lr-company-name, #lr-company-website, #lr-company-faqs, #lr-company-jobs.

import { h } from '../dom.js';
import { safeHttpUrl } from '../sessions-ui.js';
import { companyLogo, jobKindLabel } from '../events-ui.js';
import { ic, redrawIf } from './util.js';

/** The tab shows when the session belongs to a company. */
export function showsCompany(live) {
  return Boolean(live.company);
}

export function createCompany() {
  const el = h('div', { class: 'lr-panel-body lr-company' });

  function build(c) {
    const website = safeHttpUrl(c.website);
    return [
      h(
        'div',
        { class: 'lr-company-head' },
        companyLogo(c, 'md'),
        h(
          'div',
          { class: 'lr-company-title' },
          h('h2', { class: 'lr-company-name', id: 'lr-company-name' }, c.name),
          c.location ? h('p', { class: 'small muted' }, c.location) : null,
          website
            ? h('a', { href: website, target: '_blank', rel: 'noopener noreferrer', class: 'lr-company-link small', id: 'lr-company-website' }, ic('external', 'icon icon-xs'), new URL(website).host)
            : null,
        ),
      ),
      c.description ? h('p', { class: 'lr-company-desc pre-line small' }, c.description) : null,
      h('h3', { class: 'lr-company-sub' }, 'Open jobs'),
      (c.jobs || []).length
        ? h(
            'ul',
            { class: 'lr-company-jobs', id: 'lr-company-jobs' },
            c.jobs.map((j) => {
              const url = safeHttpUrl(j.url);
              return h(
                'li',
                { class: 'lr-job' },
                url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'lr-job-title' }, j.title, ic('external', 'icon icon-xs')) : h('span', { class: 'lr-job-title' }, j.title),
                h('span', { class: 'small muted' }, [jobKindLabel(j.kind), j.location].filter(Boolean).join(' · ')),
                j.description ? h('p', { class: 'small lr-job-desc' }, j.description) : null,
              );
            }),
          )
        : h('p', { class: 'lr-empty-line' }, 'No open jobs listed.'),
      h('h3', { class: 'lr-company-sub' }, 'FAQs'),
      (c.faqs || []).length
        ? h(
            'div',
            { class: 'lr-company-faqs', id: 'lr-company-faqs' },
            c.faqs.map((f) => h('details', { class: 'faq faq-sm' }, h('summary', { class: 'faq-q' }, h('span', null, f.question), ic('down', 'icon icon-xs faq-chevron')), h('p', { class: 'faq-a pre-line small' }, f.answer))),
          )
        : h('p', { class: 'lr-empty-line' }, 'No FAQs yet.'),
    ];
  }

  return {
    el,
    update(live) {
      const c = live.company;
      if (!c) return;
      redrawIf(el, JSON.stringify(c), () => build(c));
    },
  };
}
