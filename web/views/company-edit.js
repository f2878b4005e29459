// The company editor (/events/{id}/companies/{cid}/edit), for its speakers
// and the event's organizers: profile (PATCH), logo (PUT the raw file; a
// preview before uploading; DELETE removes it), the ordered FAQs and jobs
// (each saved as a whole list with PUT). The server checks every limit and
// names the failing input (e.g. "jobs[1].url"), shown beside that input.
// Ids: #profile-form (#save-profile), #logo-form (#logo-input, #logo-preview,
// #upload-logo, #remove-logo), #faqs-form (#faq-list, #add-faq, #save-faqs),
// #jobs-form (#job-list, #add-job, #save-jobs).

import { h, icon, replace } from '../dom.js';
import { api, ApiError } from '../api.js';
import { field } from '../forms.js';
import { ICONS, stateCard } from '../sessions-ui.js';
import { JOB_KINDS, JOB_KIND_LABELS, companyLogo, companyPath, loadFailed, requireMember, rowError, showApiError } from '../events-ui.js';

const MAX_LOGO_BYTES = 1024 * 1024;

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
  let { company } = data;
  const { event } = data;
  ctx.setTitle(`Edit ${company.name}`);
  if (!(company.can && company.can.edit)) {
    replace(
      ctx.root,
      stateCard({
        title: 'Speakers only',
        text: 'Only this company’s speakers and the event’s organizers can edit its profile.',
        actions: [h('a', { href: companyPath(event.id, company.id), class: 'btn btn-primary' }, 'Company page')],
      }),
    );
    return;
  }

  const heading = h('h1', { class: 'page-title' }, company.name);
  const logoBox = h('div', { class: 'logo-current', id: 'logo-current' }, companyLogo(company, 'xl'));
  const setCompany = (c) => {
    company = c;
    heading.textContent = c.name;
    replace(logoBox, companyLogo(c, 'xl'));
  };

  ctx.root.append(
    h(
      'div',
      { class: 'container company-edit-page' },
      h('a', { href: companyPath(event.id, company.id), class: 'back-link' }, icon(ICONS.arrowLeft, 'icon icon-sm'), 'Company page'),
      h('div', { class: 'page-head' }, h('div', null, h('p', { class: 'eyebrow' }, `${event.name} · company profile`), heading)),
      h(
        'div',
        { class: 'edit-grid' },
        h('div', { class: 'edit-main' }, profileCard(company, setCompany), faqsCard(company, setCompany), jobsCard(company, setCompany)),
        h('aside', { class: 'edit-aside' }, logoCard(company, logoBox, setCompany)),
      ),
    ),
  );
}

function statusLine() {
  return h('p', { class: 'form-status', role: 'status' });
}

function errorLine() {
  return h('p', { class: 'form-error', role: 'alert' });
}

async function saving(button, busyLabel, work) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busyLabel;
  try {
    await work();
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

/* -------------------------------------------------------------- Profile */

function profileCard(company, setCompany) {
  const fields = {
    name: field({ name: 'name', label: 'Company name', required: true, maxlength: 80, value: company.name }),
    location: field({ name: 'location', label: 'Location', optional: true, maxlength: 120, value: company.location || '', placeholder: 'Berlin, remote' }),
    website: field({ name: 'website', label: 'Website', optional: true, type: 'url', value: company.website || '', placeholder: 'https://', spellcheck: 'false' }),
    description: field({ name: 'description', label: 'About the company', multiline: true, rows: 6, optional: true, maxlength: 2000, value: company.description || '' }),
  };
  const errorEl = errorLine();
  const status = statusLine();
  const button = h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-profile' }, 'Save profile');
  const form = h(
    'form',
    { id: 'profile-form', class: 'form', novalidate: true },
    errorEl,
    fields.name.el,
    h('div', { class: 'field-row' }, fields.location.el, fields.website.el),
    fields.description.el,
    h('div', { class: 'form-actions' }, button, status),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    errorEl.replaceChildren();
    status.replaceChildren();
    for (const f of Object.values(fields)) f.clearError();
    saving(button, 'Saving…', async () => {
      try {
        const body = {
          name: fields.name.input.value.trim(),
          location: fields.location.input.value.trim(),
          website: fields.website.input.value.trim() || null,
          description: fields.description.input.value,
        };
        const res = await api.patch(`/api/companies/${encodeURIComponent(company.id)}`, body);
        setCompany(res.company || res);
        status.replaceChildren('Profile saved.');
      } catch (err) {
        showApiError(err, { fields, errorEl });
      }
    });
  });
  return h('section', { class: 'card editor-card' }, h('h2', { class: 'card-title' }, 'Profile'), form);
}

/* ----------------------------------------------------------------- Logo */

function logoCard(company, logoBox, setCompany) {
  const errorEl = errorLine();
  const status = statusLine();
  const input = h('input', { type: 'file', id: 'logo-input', name: 'logo', accept: 'image/png,image/jpeg,image/webp', class: 'file-input' });
  const preview = h('div', { class: 'logo-preview', id: 'logo-preview', hidden: true });
  const upload = h('button', { type: 'submit', class: 'btn btn-primary btn-sm', id: 'upload-logo', disabled: true }, 'Upload logo');
  const remove = h('button', { type: 'button', class: 'btn btn-danger-ghost btn-sm', id: 'remove-logo', hidden: !company.logo_url }, 'Remove');
  let previewUrl = null;

  input.addEventListener('change', () => {
    errorEl.replaceChildren();
    status.replaceChildren();
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    const file = input.files && input.files[0];
    if (!file) {
      preview.hidden = true;
      upload.disabled = true;
      return;
    }
    previewUrl = URL.createObjectURL(file);
    replace(
      preview,
      h('img', { src: previewUrl, alt: 'Preview of the new logo', class: 'co-logo co-logo-xl' }),
      h('p', { class: 'small muted' }, `${file.name} · ${Math.ceil(file.size / 1024)} KB`),
    );
    preview.hidden = false;
    upload.disabled = false;
    // A hint only: the server checks size and type by the file's bytes.
    if (file.size > MAX_LOGO_BYTES) errorEl.replaceChildren('This file is larger than 1 MB; the server will refuse it.');
  });

  const form = h(
    'form',
    { id: 'logo-form', class: 'form', novalidate: true },
    logoBox,
    h('label', { class: 'label', for: input.id }, 'New logo'),
    input,
    h('p', { class: 'field-hint' }, 'PNG, JPEG or WebP, at most 1 MB. Square logos look best.'),
    preview,
    errorEl,
    h('div', { class: 'form-actions' }, upload, remove),
    status,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const file = input.files && input.files[0];
    if (!file) return;
    errorEl.replaceChildren();
    status.replaceChildren();
    saving(upload, 'Uploading…', async () => {
      try {
        const res = await fetch(`/api/companies/${encodeURIComponent(company.id)}/logo`, {
          method: 'PUT',
          credentials: 'same-origin',
          headers: { Accept: 'application/json', 'Content-Type': file.type || 'application/octet-stream' },
          body: file,
        });
        const body = await res.json().catch(() => null);
        if (!res.ok) {
          const e2 = body && body.error;
          throw new ApiError(res.status, e2 ? e2.code : 'http_error', e2 && e2.message ? e2.message : `The upload failed (HTTP ${res.status}).`);
        }
        setCompany(body.company || body);
        input.value = '';
        preview.hidden = true;
        remove.hidden = false;
        status.replaceChildren('Logo uploaded.');
      } catch (err) {
        showApiError(err, { errorEl });
      }
    });
    upload.disabled = true;
  });
  remove.addEventListener('click', () => {
    errorEl.replaceChildren();
    status.replaceChildren();
    saving(remove, 'Removing…', async () => {
      try {
        const res = await api.del(`/api/companies/${encodeURIComponent(company.id)}/logo`);
        setCompany((res && (res.company || res)) || { ...company, logo_url: null });
        remove.hidden = true;
        status.replaceChildren('Logo removed.');
      } catch (err) {
        showApiError(err, { errorEl });
      }
    });
  });
  return h('section', { class: 'card editor-card' }, h('h2', { class: 'card-title' }, 'Logo'), form);
}

/* ------------------------------------------------------- Ordered lists */

/**
 * An ordered list editor: rows built by `makeRow(item)` → {el, read(), inputs:
 * {key: input}}; move up / down / remove per row; `save(items)` PUTs them.
 */
function listEditor({ id, title, items, makeRow, addLabel, emptyText, save, itemName, saveLabel }) {
  const list = h('ol', { class: 'list-editor', id: `${id}-list` });
  const errorEl = errorLine();
  const status = statusLine();
  let rows = [];

  function redraw() {
    replace(list, rows.length ? rows.map((r, i) => decorate(r, i)) : h('li', { class: 'muted empty-inline list-editor-empty' }, emptyText));
  }
  function decorate(row, i) {
    const btn = (label, iconPaths, disabled, fn, cls = 'btn btn-ghost btn-icon btn-sm') =>
      h('button', { type: 'button', class: cls, 'aria-label': `${label} ${itemName} ${i + 1}`, title: label, disabled: disabled || null, onclick: fn }, icon(iconPaths, 'icon icon-sm'));
    return h(
      'li',
      { class: 'list-editor-row', dataset: { index: i } },
      h(
        'div',
        { class: 'list-editor-tools' },
        h('span', { class: 'order-num' }, String(i + 1)),
        btn('Move up', ICONS.up, i === 0, () => move(i, -1)),
        btn('Move down', ICONS.down, i === rows.length - 1, () => move(i, 1)),
        btn('Remove', ['M3 6h18', 'M8 6V4h8v2', 'M19 6l-1 14H6L5 6'], false, () => {
          rows.splice(i, 1);
          redraw();
        }, 'btn btn-danger-ghost btn-icon btn-sm'),
      ),
      row.el,
    );
  }
  function move(i, d) {
    const [r] = rows.splice(i, 1);
    rows.splice(i + d, 0, r);
    redraw();
  }
  rows = items.map(makeRow);
  redraw();

  const add = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', id: `add-${id.replace(/s$/, '')}` }, icon(ICONS.plus, 'icon icon-sm'), addLabel);
  add.addEventListener('click', () => {
    rows.push(makeRow(null));
    redraw();
    const inputs = list.querySelectorAll('li:last-child input, li:last-child textarea');
    if (inputs[0]) inputs[0].focus();
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: `save-${id}` }, saveLabel || `Save ${title.toLowerCase()}`);
  const form = h('form', { id: `${id}-form`, class: 'form', novalidate: true }, errorEl, list, h('div', { class: 'form-actions' }, add, submit, status));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    errorEl.replaceChildren();
    status.replaceChildren();
    const fields = {};
    rows.forEach((r, i) => {
      for (const [k, f] of Object.entries(r.fields)) {
        f.clearError();
        fields[`${id}[${i}].${k}`] = f;
      }
    });
    saving(submit, 'Saving…', async () => {
      try {
        await save(rows.map((r) => r.read()));
        status.replaceChildren(`${title} saved.`);
      } catch (err) {
        showApiError(err, { fields, errorEl });
      }
    });
  });
  return h('section', { class: 'card editor-card' }, h('h2', { class: 'card-title' }, title), form);
}

function rowInput(label, input, err) {
  return h('label', { class: 'field list-field' }, h('span', { class: 'label' }, label), input, err.el);
}

function faqsCard(company, setCompany) {
  return listEditor({
    id: 'faqs',
    title: 'FAQs',
    saveLabel: 'Save FAQs',
    itemName: 'question',
    addLabel: 'Add a question',
    emptyText: 'No questions yet. Answer what participants ask most: hiring process, remote work, languages…',
    items: company.faqs || [],
    makeRow(item) {
      const q = h('input', { class: 'input', name: 'question', maxlength: 300, value: item ? item.question : '' });
      const a = h('textarea', { class: 'input textarea', name: 'answer', rows: 3, maxlength: 2000 });
      a.value = item ? item.answer : '';
      const fields = { question: rowError(q), answer: rowError(a) };
      q.addEventListener('input', () => fields.question.clearError());
      a.addEventListener('input', () => fields.answer.clearError());
      return {
        el: h('div', { class: 'list-editor-fields' }, rowInput('Question', q, fields.question), rowInput('Answer', a, fields.answer)),
        fields,
        read: () => ({ question: q.value.trim(), answer: a.value }),
      };
    },
    async save(faqs) {
      const res = await api.put(`/api/companies/${encodeURIComponent(company.id)}/faqs`, { faqs });
      setCompany(res.company || res);
    },
  });
}

function jobsCard(company, setCompany) {
  return listEditor({
    id: 'jobs',
    title: 'Jobs',
    itemName: 'job',
    addLabel: 'Add a job',
    emptyText: 'No jobs listed. Add the roles you are hiring for; participants see them in the live room too.',
    items: company.jobs || [],
    makeRow(item) {
      const title = h('input', { class: 'input', name: 'title', maxlength: 120, value: item ? item.title : '' });
      const kind = h('select', { class: 'input select', name: 'kind' }, JOB_KINDS.map((k) => h('option', { value: k }, JOB_KIND_LABELS[k])));
      kind.value = item ? item.kind : 'full_time';
      const location = h('input', { class: 'input', name: 'location', maxlength: 120, value: item ? item.location || '' : '' });
      const url = h('input', { class: 'input', name: 'url', type: 'url', maxlength: 500, placeholder: 'https://', value: item ? item.url || '' : '' });
      const description = h('textarea', { class: 'input textarea', name: 'description', rows: 3, maxlength: 3000 });
      description.value = item ? item.description || '' : '';
      const fields = { title: rowError(title), kind: rowError(kind), location: rowError(location), url: rowError(url), description: rowError(description) };
      for (const [k, el] of Object.entries({ title, kind, location, url, description })) el.addEventListener('input', () => fields[k].clearError());
      return {
        el: h(
          'div',
          { class: 'list-editor-fields' },
          h('div', { class: 'field-row' }, rowInput('Job title', title, fields.title), rowInput('Kind', kind, fields.kind)),
          h('div', { class: 'field-row' }, rowInput('Location', location, fields.location), rowInput('Link to the posting', url, fields.url)),
          rowInput('Description', description, fields.description),
        ),
        fields,
        read: () => ({ title: title.value.trim(), kind: kind.value, location: location.value.trim(), url: url.value.trim(), description: description.value }),
      };
    },
    async save(jobs) {
      const res = await api.put(`/api/companies/${encodeURIComponent(company.id)}/jobs`, { jobs });
      setCompany(res.company || res);
    },
  });
}
