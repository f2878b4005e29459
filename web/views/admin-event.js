// The organizer's pages: /admin/events/new (admins create a draft) and
// /admin/events/{id} (the event's organizers): settings, availability
// windows per day, companies and their speakers (picked from the member
// directory), organizers (admins), publish / end. Every rule is the
// server's; errors show beside the input their `field` names.
// Ids: #event-form (#save-event), #publish-event, #end-event,
// #windows-form (#window-list, #add-window, #save-windows),
// #company-form (#add-company), #company-list li[data-company-id] with
// .speaker-picker, #organizers-picker.

import { h, icon, replace, uniqueId, viewerTimeZone } from '../dom.js';
import { api } from '../api.js';
import { field } from '../forms.js';
import { ICONS, confirmDialog, plural, setFlash, stateCard, takeFlash, timeZoneList } from '../sessions-ui.js';
import { adminsOnly } from './admin.js';
import { adminEventPath, companyLogo, companyPath, eventDates, eventPath, eventStatusBadge, loadFailed, requireMember, rowError, showApiError } from '../events-ui.js';
import { communityTimeZone } from '../state.js';

const DURATION_CHOICES = [15, 30, 45, 60, 90, 120, 180, 240];

export default async function render(ctx) {
  const me = await requireMember(ctx);
  if (!me) return;
  const isNew = !ctx.params.id;
  if (isNew) {
    if (!me.is_admin) {
      adminsOnly(ctx);
      return;
    }
    ctx.setTitle('New event');
    ctx.root.append(
      h(
        'div',
        { class: 'container admin-event-page' },
        h('a', { href: '/events', class: 'back-link' }, icon(ICONS.arrowLeft, 'icon icon-sm'), 'Events'),
        h('div', { class: 'page-head' }, h('div', null, h('h1', { class: 'page-title' }, 'New event'), h('p', { class: 'muted' }, 'It starts as a draft that only organizers see. Add time windows and companies, then publish.'))),
        h('div', { class: 'card editor-card' }, eventForm(ctx, null)),
      ),
    );
    return;
  }

  let data;
  let members = [];
  try {
    [data, members] = await Promise.all([
      api.get(`/api/events/${encodeURIComponent(ctx.params.id)}`, { signal: ctx.signal }),
      api.get('/api/members', { signal: ctx.signal }).then((r) => r.members || []),
    ]);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    loadFailed(ctx, err, 'Event');
    return;
  }
  if (!ctx.isCurrent()) return;
  if (!(data.event.can && data.event.can.manage)) {
    ctx.setTitle('Organizers only');
    replace(ctx.root, stateCard({ title: 'Organizers only', text: 'Only the organizers of this event can manage it.', actions: [h('a', { href: eventPath(data.event.id), class: 'btn btn-primary' }, 'Event page')] }));
    return;
  }
  const page = { ctx, me, event: data.event, companies: data.companies || [], members, flash: takeFlash(`admin-event:${data.event.id}`) };
  const headEl = h('div');
  const body = h('div', { class: 'admin-event-grid' });
  page.redraw = () => {
    ctx.setTitle(`${page.event.name} · Manage`);
    replace(headEl, head(page));
    replace(
      body,
      h('div', { class: 'admin-event-main' }, h('div', { class: 'card editor-card' }, h('h2', { class: 'card-title' }, 'Event and settings'), eventForm(ctx, page)), windowsCard(page), companiesCard(page)),
      h('aside', { class: 'admin-event-aside' }, me.is_admin ? organizersCard(page) : null, summaryCard(page)),
    );
  };
  page.reload = async () => {
    const fresh = await api.get(`/api/events/${encodeURIComponent(page.event.id)}`);
    page.event = fresh.event;
    page.companies = fresh.companies || [];
  };
  ctx.root.append(h('div', { class: 'container admin-event-page' }, h('a', { href: eventPath(page.event.id), class: 'back-link' }, icon(ICONS.arrowLeft, 'icon icon-sm'), 'Event page'), headEl, body));
  page.redraw();
}

/* ----------------------------------------------------------------- Head */

function head(page) {
  const { event } = page;
  const errorEl = h('p', { class: 'form-error', role: 'alert', id: 'transition-error' });
  const act = (action, label, cls, confirm) => {
    const b = h('button', { type: 'button', class: ['btn btn-sm', cls], id: `${action}-event` }, label);
    b.addEventListener('click', async () => {
      if (confirm && !(await confirmDialog(confirm))) return;
      b.disabled = true;
      errorEl.replaceChildren();
      try {
        page.event = await api.post(`/api/events/${encodeURIComponent(event.id)}/${action}`, {}).then((r) => r.event || r);
        page.flash = action === 'publish' ? 'Published. Participants can now see the program and register.' : 'The event has ended. No more bookings or registrations.';
        page.redraw();
      } catch (err) {
        errorEl.replaceChildren(err.message);
        b.disabled = false;
      }
    });
    return b;
  };
  const hint = {
    draft: 'Draft: only organizers see it. Speakers cannot book yet.',
    published: 'Published: participants browse the program and register; speakers book slots.',
    ended: 'Ended: no more bookings or registrations. Everything stays readable.',
  }[event.status];
  const flash = page.flash;
  page.flash = null;
  return h(
    'div',
    null,
    h(
      'div',
      { class: 'page-head editor-page-head' },
      h(
        'div',
        { class: 'editor-title' },
        h('div', { class: 'badges' }, eventStatusBadge(event.status)),
        h('h1', { class: 'page-title', id: 'editor-title' }, event.name),
        h('p', { class: 'muted', id: 'event-state-hint' }, `${eventDates(event)} · ${event.time_zone}. ${hint || ''}`),
      ),
      h(
        'div',
        { class: 'actions editor-actions' },
        h('a', { href: eventPath(event.id), class: 'btn btn-sm btn-secondary', id: 'view-event' }, event.status === 'draft' ? 'Preview' : 'View page'),
        event.status === 'draft' ? act('publish', 'Publish', 'btn-primary', null) : null,
        event.status === 'published'
          ? act('end', 'End event', 'btn-danger-outline', { title: 'End this event?', message: 'Speakers can no longer book and participants can no longer register. This cannot be undone.', confirmLabel: 'End event', danger: true })
          : null,
      ),
    ),
    errorEl,
    flash ? h('div', { class: 'banner banner-info event-flash', role: 'status', id: 'event-flash' }, icon(ICONS.check, 'icon icon-sm'), h('p', null, flash)) : null,
  );
}

function summaryCard(page) {
  const s = page.event.settings || {};
  const c = page.event.counts || {};
  return h(
    'section',
    { class: 'card editor-card' },
    h('h2', { class: 'card-title' }, 'At a glance'),
    h(
      'dl',
      { class: 'details', id: 'event-summary' },
      h('dt', null, 'Companies'),
      h('dd', null, String(c.companies || 0)),
      h('dt', null, 'Sessions booked'),
      h('dd', null, String(c.sessions || 0)),
      h('dt', null, 'Per company'),
      h('dd', null, plural(s.sessions_per_company || 0, 'session', 'sessions')),
      h('dt', null, 'Durations'),
      h('dd', null, (s.durations || []).map((m) => `${m} min`).join(', ')),
      h('dt', null, 'At once'),
      h('dd', null, s.max_concurrent ? plural(s.max_concurrent, 'session', 'sessions') : 'No limit'),
    ),
  );
}

/* ------------------------------------------------------ Event + settings */

function num(opts) {
  const f = field({ ...opts, type: 'number', inputmode: 'numeric' });
  f.input.classList.add('input-number');
  if (opts.min != null) f.input.min = String(opts.min);
  if (opts.max != null) f.input.max = String(opts.max);
  return f;
}

function intOrNull(input) {
  const raw = input.value.trim();
  return raw === '' ? null : Number(raw);
}

function eventForm(ctx, page) {
  const ev = page ? page.event : null;
  const st = (ev && ev.settings) || { start_lead_minutes: 5, default_capacity: 20, durations: [30, 60], sessions_per_company: 2, max_concurrent: null };
  const tz0 = (ev && ev.time_zone) || communityTimeZone() || viewerTimeZone() || 'UTC';
  const fields = {
    name: field({ name: 'name', label: 'Name', required: true, maxlength: 120, value: ev ? ev.name : '', placeholder: 'e.g. Winter Career Fair 2026' }),
    description: field({ name: 'description', label: 'Description', multiline: true, rows: 4, optional: true, maxlength: 5000, value: ev ? ev.description || '' : '' }),
    first_day: field({ name: 'first_day', label: 'First day', type: 'date', required: true, value: ev ? ev.first_day : '' }),
    last_day: field({ name: 'last_day', label: 'Last day', type: 'date', required: true, value: ev ? ev.last_day : '' }),
    time_zone: field({ name: 'time_zone', label: 'Time zone', required: true, value: tz0, autocomplete: 'off', spellcheck: 'false', hint: 'Windows and days are in this zone.' }),
    'settings.start_lead_minutes': num({ name: 'start_lead_minutes', label: 'Hosts may start (minutes early)', value: String(st.start_lead_minutes), min: 0, max: 60 }),
    'settings.default_capacity': num({ name: 'default_capacity', label: 'Spots per session', value: String(st.default_capacity), min: 1, max: 50 }),
    'settings.sessions_per_company': num({ name: 'sessions_per_company', label: 'Sessions per company', value: String(st.sessions_per_company), min: 1, max: 50 }),
    'settings.max_concurrent': num({ name: 'max_concurrent', label: 'Sessions at once', optional: true, value: st.max_concurrent == null ? '' : String(st.max_concurrent), min: 1, max: 100, hint: 'Empty: no limit.' }),
  };
  fields.first_day.el.classList.add('field-narrow');
  fields.last_day.el.classList.add('field-narrow');
  const zonesId = uniqueId('zones');
  fields.time_zone.input.setAttribute('list', zonesId);
  const zones = h('datalist', { id: zonesId }, timeZoneList([tz0]).map((z) => h('option', { value: z })));

  const durationBoxes = DURATION_CHOICES.map((m) => h('input', { type: 'checkbox', name: 'durations', value: String(m), id: `duration-${m}`, checked: (st.durations || []).includes(m) || null }));
  const durationsSet = h(
    'fieldset',
    { class: 'fieldset' },
    h('legend', { class: 'label' }, 'Durations speakers may choose'),
    h('div', { class: 'check-inline', id: 'event-durations' }, DURATION_CHOICES.map((m, i) => h('label', { class: 'check-chip', for: durationBoxes[i].id }, durationBoxes[i], h('span', null, `${m} min`)))),
  );
  fields['settings.durations'] = rowError(durationsSet.querySelector('.check-inline'));
  durationsSet.append(fields['settings.durations'].el);
  fields.settings = fields['settings.durations'];

  const errorEl = h('div', { class: 'form-error', role: 'alert', id: 'form-error' });
  const status = h('p', { class: 'form-status', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-event' }, ev ? 'Save changes' : 'Create draft');
  const form = h(
    'form',
    { id: 'event-form', class: 'form', novalidate: true },
    errorEl,
    fields.name.el,
    fields.description.el,
    h('div', { class: 'field-row field-row-3' }, fields.first_day.el, fields.last_day.el, fields.time_zone.el),
    zones,
    h(
      'section',
      { class: 'form-section' },
      h('h3', { class: 'form-section-title' }, 'Rules for companies'),
      h('div', { class: 'field-row field-row-4' }, fields['settings.sessions_per_company'].el, fields['settings.default_capacity'].el, fields['settings.max_concurrent'].el, fields['settings.start_lead_minutes'].el),
      durationsSet,
    ),
    h('div', { class: 'form-actions' }, submit, status),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errorEl.replaceChildren();
    status.replaceChildren();
    for (const f of Object.values(fields)) f.clearError();
    const body = {
      name: fields.name.input.value.trim(),
      description: fields.description.input.value,
      first_day: fields.first_day.input.value,
      last_day: fields.last_day.input.value,
      time_zone: fields.time_zone.input.value.trim(),
      settings: {
        start_lead_minutes: intOrNull(fields['settings.start_lead_minutes'].input),
        default_capacity: intOrNull(fields['settings.default_capacity'].input),
        sessions_per_company: intOrNull(fields['settings.sessions_per_company'].input),
        max_concurrent: intOrNull(fields['settings.max_concurrent'].input),
        durations: durationBoxes.filter((b) => b.checked).map((b) => Number(b.value)),
      },
    };
    submit.disabled = true;
    try {
      if (!ev) {
        const res = await api.post('/api/events', body);
        const created = res.event || res;
        setFlash('Draft created. Next: add time windows and companies.', `admin-event:${created.id}`);
        ctx.navigate(adminEventPath(created.id));
        return;
      }
      const res = await api.patch(`/api/events/${encodeURIComponent(ev.id)}`, body);
      page.event = res.event || res;
      page.flash = 'Saved.';
      page.redraw();
    } catch (err) {
      showApiError(err, { fields, errorEl });
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/* -------------------------------------------------------------- Windows */

function eventDays(event) {
  const out = [];
  const a = Date.parse(`${event.first_day}T00:00:00Z`);
  const b = Date.parse(`${event.last_day}T00:00:00Z`);
  if (Number.isNaN(a) || Number.isNaN(b)) return out;
  for (let t = a; t <= b && out.length < 62; t += 86400000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

function windowsCard(page) {
  const days = eventDays(page.event);
  const list = h('ul', { class: 'window-list', id: 'window-list' });
  const errorEl = h('p', { class: 'form-error', role: 'alert', id: 'windows-error' });
  const status = h('p', { class: 'form-status', role: 'status' });
  let rows = [];

  function makeRow(w) {
    const day = h('select', { class: 'input select input-sm', name: 'day', 'aria-label': 'Day' }, days.map((d) => h('option', { value: d }, dayLabel(d))));
    day.value = w ? w.day : days[0] || '';
    const starts = h('input', { type: 'time', class: 'input input-sm', name: 'starts', step: 300, value: w ? w.starts : '09:00', 'aria-label': 'Starts' });
    const ends = h('input', { type: 'time', class: 'input input-sm', name: 'ends', step: 300, value: w ? w.ends : '12:00', 'aria-label': 'Ends' });
    const fields = { day: rowError(day), starts: rowError(starts), ends: rowError(ends) };
    const row = { fields, read: () => ({ day: day.value, starts: starts.value, ends: ends.value }) };
    const remove = h('button', { type: 'button', class: 'btn btn-danger-ghost btn-sm', 'aria-label': 'Remove this window' }, 'Remove');
    remove.addEventListener('click', () => {
      rows = rows.filter((r) => r !== row);
      redraw();
    });
    row.el = h(
      'li',
      { class: 'window-row' },
      h('div', { class: 'window-inputs' }, day, starts, h('span', { class: 'muted', 'aria-hidden': 'true' }, '–'), ends, remove),
      fields.day.el,
      fields.starts.el,
      fields.ends.el,
    );
    return row;
  }
  function redraw() {
    replace(list, rows.length ? rows.map((r) => r.el) : h('li', { class: 'muted empty-inline', id: 'windows-empty' }, 'No windows yet: speakers cannot book until you add at least one.'));
  }
  rows = (page.event.windows || []).map(makeRow);
  redraw();

  const add = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', id: 'add-window' }, icon(ICONS.plus, 'icon icon-sm'), 'Add a window');
  add.addEventListener('click', () => {
    const last = rows.length ? rows[rows.length - 1].read() : null;
    const next = last ? { day: days[Math.min(days.indexOf(last.day) + 1, days.length - 1)] || last.day, starts: last.starts, ends: last.ends } : null;
    rows.push(makeRow(next));
    redraw();
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-windows' }, 'Save windows');
  const form = h(
    'form',
    { id: 'windows-form', class: 'form', novalidate: true },
    h('p', { class: 'muted small' }, `When sessions may run, in ${page.event.time_zone}. Speakers pick a start inside a window; a session must fit wholly inside one.`),
    errorEl,
    list,
    h('div', { class: 'form-actions' }, add, submit, status),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errorEl.replaceChildren();
    status.replaceChildren();
    const fields = {};
    rows.forEach((r, i) => {
      for (const [k, f] of Object.entries(r.fields)) {
        f.clearError();
        fields[`windows[${i}].${k}`] = f;
      }
    });
    fields.windows = { setError: () => {}, input: list };
    submit.disabled = true;
    try {
      const res = await api.put(`/api/events/${encodeURIComponent(page.event.id)}/windows`, { windows: rows.map((r) => r.read()) });
      page.event = res.event || res;
      page.flash = `Windows saved: ${plural((page.event.windows || []).length, 'window', 'windows')}.`;
      page.redraw();
    } catch (err) {
      showApiError(err, { fields, errorEl });
      submit.disabled = false;
    }
  });
  return h('section', { class: 'card editor-card', id: 'windows-card' }, h('h2', { class: 'card-title' }, 'Time windows'), form);
}

function dayLabel(day) {
  const d = new Date(`${day}T12:00:00Z`);
  return new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short' }).format(d);
}

/* ------------------------------------------------------- Member picker */

/**
 * Pick members from the directory: the chosen ones as removable chips, a
 * select to add one, Save PUTs the ids. `onSave(ids)` returns a promise.
 */
function memberPicker({ id, label, chosen, members, onSave, saveLabel = 'Save', showLabel = true }) {
  let picked = chosen.map((c) => ({ id: c.user_id, name: c.name }));
  const chips = h('ul', { class: 'picker-chips' });
  const select = h('select', { class: 'input select input-sm', id: `${id}-select`, 'aria-label': `Add to ${label.toLowerCase()}` });
  const errorEl = h('p', { class: 'form-error', role: 'alert' });
  const status = h('p', { class: 'form-status', role: 'status' });
  function draw() {
    replace(
      chips,
      picked.length
        ? picked.map((p) =>
            h(
              'li',
              { class: 'picker-chip', dataset: { userId: p.id } },
              h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' }, (p.name || '?').slice(0, 1).toUpperCase()),
              h('span', { class: 'picker-name' }, p.name),
              h('button', {
                type: 'button',
                class: 'btn btn-ghost btn-icon btn-sm',
                'aria-label': `Remove ${p.name}`,
                onclick: () => {
                  picked = picked.filter((x) => x !== p);
                  draw();
                },
              }, icon(['M18 6 6 18', 'M6 6l12 12'], 'icon icon-xs')),
            ),
          )
        : h('li', { class: 'muted small' }, 'Nobody yet.'),
    );
    const ids = new Set(picked.map((p) => p.id));
    replace(select, h('option', { value: '' }, 'Add a member…'), members.filter((m) => !ids.has(m.id)).map((m) => h('option', { value: String(m.id) }, m.name)));
  }
  select.addEventListener('change', () => {
    const m = members.find((x) => String(x.id) === select.value);
    if (m) picked.push({ id: m.id, name: m.name });
    draw();
  });
  draw();
  const save = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', id: `${id}-save` }, saveLabel);
  save.addEventListener('click', async () => {
    errorEl.replaceChildren();
    status.replaceChildren();
    save.disabled = true;
    try {
      await onSave(picked.map((p) => p.id));
    } catch (err) {
      errorEl.replaceChildren(err.message);
      save.disabled = false;
    }
  });
  return h('div', { class: 'member-picker', id }, showLabel ? h('span', { class: 'label' }, label) : null, chips, h('div', { class: 'picker-add' }, select, save), errorEl, status);
}

function organizersCard(page) {
  return h(
    'section',
    { class: 'card editor-card' },
    h('h2', { class: 'card-title' }, 'Organizers'),
    h('p', { class: 'muted small' }, 'Admins always organize. Members named here manage this event too.'),
    memberPicker({
      id: 'organizers-picker',
      label: 'Organizers',
      showLabel: false,
      chosen: page.event.organizers || [],
      members: page.members,
      saveLabel: 'Save organizers',
      async onSave(ids) {
        const res = await api.put(`/api/events/${encodeURIComponent(page.event.id)}/organizers`, { user_ids: ids });
        page.event = res.event || res;
        page.flash = 'Organizers saved.';
        page.redraw();
      },
    }),
  );
}

/* ------------------------------------------------------------ Companies */

function companiesCard(page) {
  const { event } = page;
  const fields = {
    name: field({ name: 'name', label: 'Company name', required: true, maxlength: 80 }),
    website: field({ name: 'website', label: 'Website', optional: true, type: 'url', placeholder: 'https://' }),
    location: field({ name: 'location', label: 'Location', optional: true, maxlength: 120 }),
  };
  const errorEl = h('p', { class: 'form-error', role: 'alert', id: 'company-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-sm', id: 'add-company' }, icon(ICONS.plus, 'icon icon-sm'), 'Add company');
  const form = h('form', { id: 'company-form', class: 'form company-add', novalidate: true }, errorEl, h('div', { class: 'field-row field-row-3' }, fields.name.el, fields.website.el, fields.location.el), h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errorEl.replaceChildren();
    for (const f of Object.values(fields)) f.clearError();
    submit.disabled = true;
    try {
      const res = await api.post(`/api/events/${encodeURIComponent(event.id)}/companies`, {
        name: fields.name.input.value.trim(),
        website: fields.website.input.value.trim() || null,
        location: fields.location.input.value.trim(),
      });
      const c = res.company || res;
      await page.reload();
      page.flash = `${c.name} added. Now name its speakers.`;
      page.redraw();
    } catch (err) {
      showApiError(err, { fields, errorEl });
      submit.disabled = false;
    }
  });

  const list = page.companies.length
    ? h('ul', { class: 'admin-company-list', id: 'company-list' }, page.companies.map((c) => companyRow(page, c)))
    : h('p', { class: 'muted empty-inline', id: 'company-list-empty' }, 'No companies yet. Add the first one below.');
  return h('section', { class: 'card editor-card', id: 'companies-card' }, h('h2', { class: 'card-title' }, 'Companies and speakers'), list, h('h3', { class: 'subsection-title' }, 'Add a company'), form);
}

function companyRow(page, c) {
  const errorEl = h('p', { class: 'form-error', role: 'alert' });
  const del = h('button', { type: 'button', class: 'btn btn-danger-ghost btn-sm', id: `delete-company-${c.id}` }, 'Delete');
  del.addEventListener('click', async () => {
    const ok = await confirmDialog({ title: `Delete ${c.name}?`, message: 'Its profile, FAQs and jobs are removed. Companies with sessions cannot be deleted; cancel their sessions first.', confirmLabel: 'Delete company', danger: true });
    if (!ok) return;
    del.disabled = true;
    try {
      await api.del(`/api/companies/${encodeURIComponent(c.id)}`);
      await page.reload();
      page.flash = `${c.name} deleted.`;
      page.redraw();
    } catch (err) {
      errorEl.replaceChildren(err.message);
      del.disabled = false;
    }
  });
  return h(
    'li',
    { class: 'admin-company', dataset: { companyId: c.id } },
    h(
      'div',
      { class: 'admin-company-head' },
      companyLogo(c, 'sm'),
      h('div', { class: 'admin-company-name' }, h('a', { href: companyPath(page.event.id, c.id) }, c.name), h('span', { class: 'small muted' }, `${(c.sessions && c.sessions.booked) || 0} of ${(c.sessions && c.sessions.allowed) || 0} sessions booked`)),
      h(
        'div',
        { class: 'row-actions' },
        h('a', { href: companyPath(page.event.id, c.id, '/edit'), class: 'btn btn-ghost btn-sm' }, 'Edit profile'),
        h('a', { href: companyPath(page.event.id, c.id, '/book'), class: 'btn btn-ghost btn-sm' }, 'Book'),
        del,
      ),
    ),
    memberPicker({
      id: `speakers-${c.id}`,
      label: 'Speakers',
      chosen: c.speakers || [],
      members: page.members,
      saveLabel: 'Save speakers',
      async onSave(ids) {
        await api.put(`/api/companies/${encodeURIComponent(c.id)}/speakers`, { user_ids: ids });
        await page.reload();
        page.flash = `Speakers of ${c.name} saved.`;
        page.redraw();
      },
    }),
    errorEl,
  );
}
