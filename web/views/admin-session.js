// Admin session editor: /admin/sessions/new (create a draft) and
// /admin/sessions/:id (edit, state actions, participants and waitlist).
//
// The start is entered as a wall-clock date and time in the session's own
// IANA time zone and sent as RFC 3339 UTC (see zonedToUtc, DST-aware).

import { h, icon, replace, initials, uniqueId, charCount, viewerTimeZone } from '../dom.js';
import { api } from '../api.js';
import { communityTimeZone } from '../state.js';
import { field, formErrorRegion, formStatusRegion, handleSubmit, submitButton, showFormError, reportError } from '../forms.js';
import { requireAdmin } from './admin.js';
import { TRANSITIONS, transitionsFor, transitionSession } from './admin-sessions.js';
import {
  ICONS,
  PARTICIPANT_STATUSES,
  ROLES,
  adminSessionPath,
  apiSessionPath,
  confirmDialog,
  formatDateTime,
  formatDay,
  isValidTimeZone,
  participantStatusLabel,
  plural,
  roleBadge,
  roleLabel,
  safeHttpUrl,
  sessionPath,
  sessionWhen,
  setFlash,
  stateCard,
  statusBadge,
  takeFlash,
  timeZoneList,
  toRfc3339,
  totals,
  utcToZoned,
  zonedToUtc,
} from '../sessions-ui.js';

const LIMITS = {
  title: 120,
  description: 5000,
  duration: [15, 480],
  capacity: { host: [1, 5], presenter: [0, 20], interviewer: [0, 1], guest: [0, 50] },
  capacityTotal: 50,
};

const DEFAULTS = {
  duration_minutes: 45,
  talk_minutes: 10,
  qa_minutes: 5,
  capacity: { host: 1, presenter: 3, interviewer: 1, guest: 5 },
};

export default async function render(ctx) {
  const me = await requireAdmin(ctx, { organisers: true });
  if (!me) return;
  const id = ctx.params.id;

  if (!id) {
    ctx.setTitle('New session · Admin');
    drawEditor({ ctx, me, session: null });
    return;
  }

  ctx.setTitle('Session · Admin');
  ctx.root.append(h('div', { class: 'container' }, h('p', { class: 'muted loading' }, 'Loading session…')));
  let session;
  try {
    const body = await api.get(apiSessionPath(id), { signal: ctx.signal });
    session = body && body.session;
    if (!session) throw new Error('The server sent an unexpected response.');
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    if (err.status === 401) {
      ctx.redirect(`/signin?next=${encodeURIComponent(ctx.path)}`);
      return;
    }
    replace(
      ctx.root,
      err.status === 404
        ? stateCard({
            code: '404',
            title: 'Session not found',
            text: 'It may have been removed, or the link is mistyped.',
            actions: [h('a', { href: '/admin?tab=sessions', class: 'btn btn-primary' }, 'All sessions')],
          })
        : stateCard({
            title: 'Couldn’t load this session',
            text: err.message,
            alert: true,
            actions: [h('button', { type: 'button', class: 'btn btn-primary', onclick: () => ctx.redirect(ctx.path) }, 'Try again')],
          }),
    );
    return;
  }
  if (!ctx.isCurrent()) return;
  const page = { ctx, me, session };
  drawEditor(page);
  await loadParticipants(page);
}

/* --------------------------------------------------------------- Layout */

function drawEditor(page) {
  const { ctx, session, me } = page;
  const isNew = !session;
  if (!isNew) ctx.setTitle(`${session.title} · Admin`);

  page.actionError = h('div', { id: 'action-error', class: 'form-error', role: 'alert' });
  page.actionStatus = h('div', { id: 'action-status', class: 'form-status', role: 'status' });
  page.headEl = h('div', { class: 'editor-head' });
  page.formCard = h('div', { class: 'card editor-card' });
  page.participantsEl = isNew ? null : h('section', { class: 'card panel', id: 'participants-panel', 'aria-labelledby': 'participants-title' });

  replace(
    ctx.root,
    h(
      'div',
      { class: 'container editor-page' },
      h('a', { href: me.is_admin ? '/admin?tab=sessions' : '/', class: 'back-link' }, icon(ICONS.arrowLeft, 'icon icon-sm'), 'All sessions'),
      page.headEl,
      page.actionStatus,
      page.actionError,
      page.formCard,
      page.participantsEl,
    ),
  );

  drawHead(page);
  replace(page.formCard, sessionForm(page));
  const flash = takeFlash(`admin-session:${isNew ? 'new' : session.id}`);
  if (flash) page.actionStatus.textContent = flash;
}

function drawHead(page) {
  const { session } = page;
  if (!session) {
    replace(
      page.headEl,
      h(
        'div',
        { class: 'page-head' },
        h(
          'div',
          null,
          h('h1', { class: 'page-title' }, 'New session'),
          h('p', { class: 'muted' }, 'It starts as a draft. Members can see and register once you publish it.'),
        ),
      ),
    );
    return;
  }

  const buttons = transitionsFor(session.status).map((action) => {
    const b = h(
      'button',
      {
        type: 'button',
        id: `${action}-session`,
        class: ['btn btn-sm', action === 'cancel' ? 'btn-danger-outline' : action === 'publish' ? 'btn-primary' : 'btn-secondary'],
        dataset: { action },
      },
      action === 'cancel' ? 'Cancel session' : TRANSITIONS[action].label,
    );
    b.addEventListener('click', () => onTransition(page, action, b));
    return b;
  });

  const hint = {
    draft: 'Only admins can see this draft. Publish it to open registration.',
    open: 'Open for registration.',
    full: 'Every spot is taken; new registrations join the waitlist.',
    closed: 'Registration is closed. Reopen to accept registrations again.',
    in_progress: 'This session is happening now.',
    completed: 'This session has ended.',
    cancelled: 'This session was cancelled. It can’t be changed any more.',
  }[session.status];

  replace(
    page.headEl,
    h(
      'div',
      { class: 'page-head editor-page-head' },
      h(
        'div',
        { class: 'editor-title' },
        h('div', { class: 'badges' }, statusBadge(session.status)),
        h('h1', { class: 'page-title', id: 'editor-title' }, session.title),
        h('p', { class: 'muted', id: 'session-state-hint' }, hint || ''),
      ),
      h(
        'div',
        { class: 'actions editor-actions' },
        session.status !== 'draft'
          ? h('a', { href: sessionPath(session.id), class: 'btn btn-sm btn-secondary', id: 'view-session' }, 'View page')
          : h('a', { href: sessionPath(session.id), class: 'btn btn-sm btn-secondary', id: 'view-session' }, 'Preview'),
        buttons,
      ),
    ),
  );
}

async function onTransition(page, action, button) {
  showFormError(page.actionError, '');
  page.actionStatus.replaceChildren();
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    const updated = await transitionSession(page.session, action);
    if (!updated) return;
    page.session = updated;
    drawHead(page);
    if (['cancelled', 'completed'].includes(updated.status)) replace(page.formCard, sessionForm(page));
    page.actionStatus.textContent = TRANSITIONS[action].done(updated);
    const next = page.headEl.querySelector('[data-action]') || page.headEl.querySelector('h1');
    if (next) {
      if (next.tagName === 'H1') next.setAttribute('tabindex', '-1');
      next.focus();
    }
  } catch (err) {
    if (err.name === 'AbortError') return;
    showFormError(page.actionError, `Couldn’t ${TRANSITIONS[action].label.toLowerCase()} the session. ${err.message}`);
    if (err.code === 'invalid_transition') refreshSession(page);
  } finally {
    if (button.isConnected) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }
}

async function refreshSession(page) {
  try {
    const body = await api.get(apiSessionPath(page.session.id), { signal: page.ctx.signal });
    if (!page.ctx.isCurrent() || !body || !body.session) return;
    const before = page.session.status;
    page.session = body.session;
    if (before !== page.session.status) drawHead(page);
  } catch {
    // Keep what we have; the next action will tell.
  }
}

/* ----------------------------------------------------------------- Form */

function numberField(opts) {
  const f = field({ ...opts, type: 'number', inputmode: 'numeric' });
  if (opts.min != null) f.input.min = String(opts.min);
  if (opts.max != null) f.input.max = String(opts.max);
  f.input.step = String(opts.step || 1);
  f.input.classList.add('input-number');
  return f;
}

/** Tomorrow-ish default: a week from today at 18:00 in `tz`. */
function defaultStart(tz) {
  const inAWeek = new Date(Date.now() + 7 * 86400000);
  const wall = utcToZoned(inAWeek.toISOString(), tz) || { date: inAWeek.toISOString().slice(0, 10) };
  return { date: wall.date, time: '18:00' };
}

function intValue(input) {
  const raw = input.value.trim();
  if (!/^-?\d+$/.test(raw)) return NaN;
  return Number(raw);
}

function sessionForm(page) {
  const { session } = page;
  const isNew = !session;
  const locked = !isNew && ['cancelled', 'completed'].includes(session.status);

  const tz0 = session?.time_zone || communityTimeZone() || viewerTimeZone() || 'UTC';
  const start0 = session ? utcToZoned(session.starts_at, tz0) || defaultStart(tz0) : defaultStart(tz0);
  const cap0 = { ...DEFAULTS.capacity, ...(session?.capacity || {}) };
  const external0 = session ? session.location === 'external' || Boolean(session.meeting_url) : false;

  const fields = {};
  fields.title = field({ name: 'title', label: 'Title', required: true, value: session?.title || '', maxlength: LIMITS.title, placeholder: 'e.g. Rust in production' });

  const countId = uniqueId('desc-count');
  const counter = h('p', { class: 'char-count', id: countId });
  fields.description = field({
    name: 'description',
    label: 'Description',
    optional: true,
    multiline: true,
    rows: 6,
    value: session?.description || '',
    hint: 'Plain text. Line breaks are kept.',
    describedBy: countId,
    counter,
  });
  const updateCount = () => {
    const n = charCount(fields.description.input.value);
    counter.textContent = `${n} / ${LIMITS.description}`;
    counter.classList.toggle('is-over', n > LIMITS.description);
    counter.classList.toggle('is-near', n <= LIMITS.description && n >= LIMITS.description - 200);
  };
  fields.description.input.addEventListener('input', updateCount);
  updateCount();

  fields.starts_on = field({ name: 'starts_on', label: 'Date', type: 'date', required: true, value: start0.date });
  fields.starts_time = field({ name: 'starts_time', label: 'Start time', type: 'time', required: true, value: start0.time });
  const zonesId = uniqueId('zones');
  fields.time_zone = field({
    name: 'time_zone',
    label: 'Time zone',
    required: true,
    value: tz0,
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
    hint: 'The zone the date and time above are in (IANA name).',
  });
  fields.time_zone.input.setAttribute('list', zonesId);
  const zones = h('datalist', { id: zonesId }, timeZoneList([tz0, communityTimeZone(), viewerTimeZone()]).map((z) => h('option', { value: z })));
  fields.starts_at = fields.starts_on; // server errors name starts_at

  fields.duration_minutes = numberField({
    name: 'duration_minutes',
    label: 'Duration (minutes)',
    required: true,
    value: String(session?.duration_minutes ?? DEFAULTS.duration_minutes),
    min: LIMITS.duration[0],
    max: LIMITS.duration[1],
    step: 5,
  });
  fields.talk_minutes = numberField({ name: 'talk_minutes', label: 'Talk (minutes)', value: String(session?.talk_minutes ?? DEFAULTS.talk_minutes), min: 1, max: 120 });
  fields.qa_minutes = numberField({ name: 'qa_minutes', label: 'Q&A per talk (minutes)', value: String(session?.qa_minutes ?? DEFAULTS.qa_minutes), min: 0, max: 60 });

  // Location.
  const locName = 'location';
  const live = h('input', { type: 'radio', name: locName, value: 'live', id: 'location-live', class: 'choice-radio', checked: !external0 });
  const ext = h('input', { type: 'radio', name: locName, value: 'external', id: 'location-external', class: 'choice-radio', checked: external0 });
  fields.meeting_url = field({
    name: 'meeting_url',
    label: 'Meeting link',
    type: 'url',
    inputmode: 'url',
    spellcheck: 'false',
    autocapitalize: 'off',
    placeholder: 'https://meet.example.com/…',
    value: session?.meeting_url || '',
    hint: 'Shown only to registered participants and admins.',
  });
  fields.meeting_password = field({
    name: 'meeting_password',
    label: 'Meeting password',
    optional: true,
    autocomplete: 'off',
    spellcheck: 'false',
    value: session?.meeting_password || '',
  });
  const externalFields = h('div', { class: 'sub-fields', id: 'external-fields', hidden: !external0 }, fields.meeting_url.el, fields.meeting_password.el);
  const syncLocation = () => {
    externalFields.hidden = !ext.checked;
    if (!ext.checked) fields.meeting_url.clearError();
  };
  live.addEventListener('change', syncLocation);
  ext.addEventListener('change', syncLocation);

  const locationSet = h(
    'fieldset',
    { class: 'field fieldset' },
    h('legend', { class: 'visually-hidden' }, 'Location'),
    h(
      'div',
      { class: 'choice-grid' },
      h(
        'label',
        { class: 'choice', for: live.id },
        live,
        h(
          'span',
          { class: 'choice-text' },
          h('span', { class: 'choice-title' }, icon(ICONS.video, 'icon icon-sm'), 'Built-in live room'),
          h('span', { class: 'choice-hint' }, 'Stage, Q&A and chat right here in the browser.'),
        ),
      ),
      h(
        'label',
        { class: 'choice', for: ext.id },
        ext,
        h(
          'span',
          { class: 'choice-text' },
          h('span', { class: 'choice-title' }, icon(ICONS.link, 'icon icon-sm'), 'External meeting'),
          h('span', { class: 'choice-hint' }, 'A link to Zoom, Meet, Jitsi or similar.'),
        ),
      ),
    ),
    externalFields,
  );

  // Capacity.
  const capFields = {};
  for (const role of ROLES) {
    const [min, max] = LIMITS.capacity[role];
    capFields[role] = numberField({
      name: `capacity.${role}`,
      label: role === 'interviewer' ? 'Interviewer' : `${roleLabel(role)}s`,
      value: String(cap0[role] ?? 0),
      min,
      max,
    });
    fields[`capacity.${role}`] = capFields[role];
  }
  const capTotal = h('p', { class: 'field-hint', id: 'capacity-total' });
  const capError = h('p', { class: 'field-error', hidden: true });
  const capSet = h(
    'fieldset',
    { class: 'field fieldset', id: 'capacity-fields' },
    h('legend', { class: 'visually-hidden' }, 'Capacity per role'),
    h('div', { class: 'capacity-grid' }, ROLES.map((r) => capFields[r].el)),
    capTotal,
    capError,
  );
  fields.capacity = {
    el: capSet,
    get input() {
      return capFields.host.input;
    },
    setError(message) {
      capError.replaceChildren(message);
      capError.hidden = false;
      capSet.classList.add('has-error');
    },
    clearError() {
      capError.hidden = true;
      capError.replaceChildren();
      capSet.classList.remove('has-error');
    },
  };

  // Live previews: the start in the admin's zone, and whether the talks fit.
  const preview = h('div', { class: 'when-preview', id: 'when-preview', 'aria-live': 'polite' });
  const formatHint = h('p', { class: 'field-hint format-hint', id: 'format-hint' });

  function readStart() {
    const tz = fields.time_zone.input.value.trim();
    const date = fields.starts_on.input.value;
    const time = fields.starts_time.input.value;
    // Untouched: keep the exact stored instant (an ambiguous wall time at a
    // DST change would otherwise resolve to the earlier of the two).
    if (session && tz === tz0 && date === start0.date && time === start0.time) {
      const original = new Date(session.starts_at);
      if (!Number.isNaN(original.getTime())) return { date: original, ambiguous: false, skipped: false };
    }
    return zonedToUtc(date, time, tz);
  }

  function updatePreview() {
    const tz = fields.time_zone.input.value.trim();
    const parts = [];
    if (!isValidTimeZone(tz)) {
      replace(preview, h('p', { class: 'preview-warn' }, icon(ICONS.alert, 'icon icon-sm'), 'Enter a time zone such as Europe/Berlin.'));
      return;
    }
    const r = readStart();
    if (!r) {
      replace(preview);
      return;
    }
    const minutes = intValue(fields.duration_minutes.input);
    const ends = new Date(r.date.getTime() + (Number.isFinite(minutes) && minutes > 0 ? minutes : 0) * 60000);
    const w = sessionWhen({ starts_at: r.date.toISOString(), ends_at: ends.toISOString(), time_zone: tz });
    const viewer = viewerTimeZone();
    parts.push(
      h(
        'p',
        { class: 'preview-line' },
        icon(ICONS.globe, 'icon icon-sm'),
        h('span', null, viewer && viewer !== tz ? `In your time zone (${viewer}): ` : 'Starts ', h('strong', null, w.text)),
      ),
    );
    parts.push(h('p', { class: 'preview-utc muted' }, `Sent as ${toRfc3339(r.date)}`));
    if (r.skipped) {
      const wall = utcToZoned(r.date.toISOString(), tz);
      parts.push(
        h(
          'p',
          { class: 'preview-warn' },
          icon(ICONS.alert, 'icon icon-sm'),
          `${fields.starts_time.input.value} doesn’t exist on that day in ${tz} (the clocks go forward). The session will start at ${wall ? wall.time : 'the next valid time'}.`,
        ),
      );
    } else if (r.ambiguous) {
      parts.push(
        h(
          'p',
          { class: 'preview-warn' },
          icon(ICONS.alert, 'icon icon-sm'),
          `${fields.starts_time.input.value} happens twice on that day in ${tz} (the clocks go back). The first one is used.`,
        ),
      );
    }
    if (r.date.getTime() < Date.now() && (isNew || r.date.getTime() !== new Date(session.starts_at).getTime())) {
      parts.push(h('p', { class: 'preview-warn' }, icon(ICONS.alert, 'icon icon-sm'), 'This time is in the past.'));
    }
    replace(preview, parts);
  }

  function updateFormat() {
    const duration = intValue(fields.duration_minutes.input);
    const talk = intValue(fields.talk_minutes.input);
    const qa = intValue(fields.qa_minutes.input);
    const presenters = intValue(capFields.presenter.input);
    if (![duration, talk, qa, presenters].every(Number.isFinite) || presenters <= 0) {
      formatHint.textContent = '';
      formatHint.classList.remove('is-warn');
      return;
    }
    const per = talk + qa;
    const used = per * presenters;
    formatHint.textContent = `${plural(presenters, 'presenter', 'presenters')} × ${per} min (talk + Q&A) = ${used} min of the ${duration} min session.${
      used > duration ? ' That’s longer than the session: shorten the talks or add time.' : ''
    }`;
    formatHint.classList.toggle('is-warn', used > duration);
  }

  function updateTotal() {
    let total = 0;
    for (const r of ROLES) {
      const n = intValue(capFields[r].input);
      if (Number.isFinite(n)) total += n;
    }
    capTotal.textContent = `Total: ${total} of at most ${LIMITS.capacityTotal} participants.`;
    capTotal.classList.toggle('is-warn', total > LIMITS.capacityTotal);
  }

  for (const f of [fields.starts_on, fields.starts_time, fields.time_zone, fields.duration_minutes]) {
    f.input.addEventListener('input', updatePreview);
    f.input.addEventListener('change', updatePreview);
  }
  for (const f of [fields.duration_minutes, fields.talk_minutes, fields.qa_minutes, capFields.presenter]) {
    f.input.addEventListener('input', updateFormat);
  }
  for (const r of ROLES) {
    capFields[r].input.addEventListener('input', () => {
      updateTotal();
      fields.capacity.clearError();
    });
  }
  updatePreview();
  updateFormat();
  updateTotal();

  const errorEl = formErrorRegion();
  const statusEl = formStatusRegion();
  const button = submitButton(isNew ? 'Create draft' : 'Save changes');
  button.id = 'save-session';

  const section = (title, ...children) =>
    h('section', { class: 'form-section' }, h('h2', { class: 'form-section-title' }, title), ...children);

  const controls = h(
    'fieldset',
    { class: 'fieldset form-body', disabled: locked },
    section('Details', fields.title.el, fields.description.el),
    section(
      'When',
      h('div', { class: 'field-row field-row-3' }, fields.starts_on.el, fields.starts_time.el, fields.time_zone.el),
      zones,
      preview,
      h('div', { class: 'field-row field-row-3' }, fields.duration_minutes.el, fields.talk_minutes.el, fields.qa_minutes.el),
      formatHint,
    ),
    section('Location', locationSet),
    section('Capacity per role', capSet),
  );

  const form = h(
    'form',
    { id: 'session-form', class: 'form', novalidate: true, 'aria-label': isNew ? 'New session' : 'Edit session' },
    locked
      ? h('p', { class: 'banner banner-info banner-compact' }, 'This session is ', h('strong', null, session.status), ', so its details can no longer be changed.')
      : null,
    errorEl,
    controls,
    h(
      'div',
      { class: 'form-actions form-actions-sticky' },
      locked ? null : button,
      h('a', { href: isNew ? '/admin?tab=sessions' : sessionPath(session.id), class: 'btn btn-secondary' }, isNew ? 'Cancel' : 'View page'),
      statusEl,
    ),
  );

  function collect() {
    const tz = fields.time_zone.input.value.trim();
    const start = readStart();
    const capacity = {};
    for (const r of ROLES) capacity[r] = intValue(capFields[r].input);
    const body = {
      title: fields.title.input.value.trim(),
      description: fields.description.input.value.replace(/\s+$/, ''),
      starts_at: start ? toRfc3339(start.date) : null,
      time_zone: tz,
      duration_minutes: intValue(fields.duration_minutes.input),
      talk_minutes: intValue(fields.talk_minutes.input),
      qa_minutes: intValue(fields.qa_minutes.input),
      capacity,
    };
    if (ext.checked) {
      body.meeting_url = fields.meeting_url.input.value.trim();
      body.meeting_password = fields.meeting_password.input.value.trim() || null;
    } else {
      body.meeting_url = null;
      body.meeting_password = null;
    }
    return { body, start };
  }

  function validate() {
    const problems = [];
    const { body, start } = collect();
    if (!body.title) problems.push({ field: 'title', message: 'Enter a title.' });
    else if (charCount(body.title) > LIMITS.title) problems.push({ field: 'title', message: `The title can be at most ${LIMITS.title} characters.` });
    if (charCount(body.description) > LIMITS.description) {
      problems.push({ field: 'description', message: `The description can be at most ${LIMITS.description} characters.` });
    }
    if (!isValidTimeZone(body.time_zone)) problems.push({ field: 'time_zone', message: 'Enter a valid time zone, such as Europe/Berlin.' });
    if (!fields.starts_on.input.value) problems.push({ field: 'starts_on', message: 'Choose a date.' });
    else if (!fields.starts_time.input.value) problems.push({ field: 'starts_time', message: 'Choose a start time.' });
    else if (isValidTimeZone(body.time_zone) && !start) problems.push({ field: 'starts_on', message: 'Enter a valid date and time.' });
    else if (start && start.date.getTime() <= Date.now()) {
      const unchanged = !isNew && start.date.getTime() === new Date(session.starts_at).getTime();
      if (!unchanged) problems.push({ field: 'starts_on', message: 'The start must be in the future.' });
    }
    const [dmin, dmax] = LIMITS.duration;
    if (!Number.isFinite(body.duration_minutes) || body.duration_minutes < dmin || body.duration_minutes > dmax) {
      problems.push({ field: 'duration_minutes', message: `The duration must be between ${dmin} and ${dmax} minutes.` });
    }
    if (!Number.isFinite(body.talk_minutes) || body.talk_minutes < 1) problems.push({ field: 'talk_minutes', message: 'Enter the talk length in minutes.' });
    if (!Number.isFinite(body.qa_minutes) || body.qa_minutes < 0) problems.push({ field: 'qa_minutes', message: 'Enter the Q&A length in minutes (0 for none).' });
    let total = 0;
    for (const r of ROLES) {
      const [min, max] = LIMITS.capacity[r];
      const n = body.capacity[r];
      if (!Number.isFinite(n) || n < min || n > max) {
        problems.push({ field: `capacity.${r}`, message: `${roleLabel(r)} capacity must be between ${min} and ${max}.` });
      } else total += n;
    }
    if (total > LIMITS.capacityTotal) problems.push({ field: 'capacity', message: `At most ${LIMITS.capacityTotal} participants in total (now ${total}).` });
    if (ext.checked) {
      if (!body.meeting_url) problems.push({ field: 'meeting_url', message: 'Enter the meeting link, or choose the built-in live room.' });
      else if (!safeHttpUrl(body.meeting_url)) problems.push({ field: 'meeting_url', message: 'Enter a full link starting with https://.' });
    }
    return problems;
  }

  /** Only what changed (PATCH), so unchanged times don't email anyone. */
  function changes(body) {
    const out = {};
    const same = (a, b) => (a ?? null) === (b ?? null);
    for (const k of ['title', 'description', 'time_zone', 'duration_minutes', 'talk_minutes', 'qa_minutes']) {
      if (!same(body[k], session[k])) out[k] = body[k];
    }
    if (new Date(body.starts_at).getTime() !== new Date(session.starts_at).getTime()) out.starts_at = body.starts_at;
    if (!same(body.meeting_url, session.meeting_url || null) || !same(body.meeting_password, session.meeting_password || null)) {
      out.meeting_url = body.meeting_url;
      out.meeting_password = body.meeting_password;
    }
    if (ROLES.some((r) => body.capacity[r] !== (session.capacity || {})[r])) out.capacity = body.capacity;
    return out;
  }

  if (!locked) {
    handleSubmit(form, {
      fields,
      errorEl,
      statusEl,
      button,
      busyLabel: isNew ? 'Creating…' : 'Saving…',
      validate,
      async onSubmit() {
        const { body } = collect();
        if (isNew) {
          const create = { ...body };
          if (!create.meeting_url) {
            delete create.meeting_url;
            delete create.meeting_password;
          } else if (!create.meeting_password) delete create.meeting_password;
          if (!create.description) create.description = '';
          const res = await api.post('/api/sessions', create);
          const created = res && (res.session || res);
          if (!created || created.id == null) throw new Error('The server did not return the new session.');
          setFlash('Draft created. Publish it when you’re ready for members to register.', `admin-session:${created.id}`);
          page.ctx.navigate(adminSessionPath(created.id), { replace: true });
          return;
        }
        const patch = changes(body);
        if (!Object.keys(patch).length) {
          statusEl.textContent = 'No changes to save.';
          return;
        }
        const notifies = 'starts_at' in patch || 'meeting_url' in patch || 'duration_minutes' in patch || 'time_zone' in patch;
        const registered = totals(session).filled;
        if (notifies && registered > 0) {
          const ok = await confirmDialog({
            title: 'Save and notify participants?',
            message: `You changed the time or the meeting location. ${plural(registered, 'registered participant', 'registered participants')} will get an email about it.`,
            confirmLabel: 'Save and notify',
            cancelLabel: 'Keep editing',
          });
          if (!ok) return;
        }
        const res = await api.patch(apiSessionPath(session.id), patch);
        const updated = res && (res.session || res);
        if (updated && updated.id != null) page.session = updated;
        drawHead(page);
        statusEl.textContent = notifies && registered > 0 ? 'Saved. Participants are being emailed about the change.' : 'Changes saved.';
      },
    });
  }

  return form;
}

/* --------------------------------------------------------- Participants */

const ROLE_ORDER = Object.fromEntries(ROLES.map((r, i) => [r, i]));

function sortParticipants(list) {
  return list.slice().sort((a, b) => {
    const r = (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9);
    if (r) return r;
    if (a.role === 'presenter') {
      const o = (a.presenter_order ?? 1e9) - (b.presenter_order ?? 1e9);
      if (o) return o;
    }
    return String(a.name).localeCompare(String(b.name));
  });
}

async function loadParticipants(page, { focus } = {}) {
  const panel = page.participantsEl;
  if (!panel) return;
  if (!page.partsError) {
    page.partsError = h('div', { id: 'participants-error', class: 'form-error', role: 'alert' });
    page.partsStatus = h('div', { id: 'participants-status', class: 'form-status', role: 'status' });
    page.partsSummary = h('p', { class: 'muted panel-summary' }, 'Loading…');
    page.partsBody = h('div', { class: 'panel-body' }, h('p', { class: 'muted loading' }, 'Loading participants…'));
    replace(
      panel,
      h('div', { class: 'panel-head' }, h('div', null, h('h2', { class: 'card-title', id: 'participants-title' }, 'Participants'), page.partsSummary)),
      page.partsStatus,
      page.partsError,
      page.partsBody,
    );
  }
  let data;
  try {
    data = await api.get(apiSessionPath(page.session.id, '/participants'), { signal: page.ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError' || !page.ctx.isCurrent()) return;
    page.partsSummary.textContent = '';
    showFormError(page.partsError, `Couldn’t load participants. ${err.message}`);
    replace(
      page.partsBody,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => loadParticipants(page) }, 'Try again')),
    );
    return;
  }
  if (!page.ctx.isCurrent()) return;
  page.participants = sortParticipants((Array.isArray(data.participants) ? data.participants : []).filter((p) => p.status !== 'cancelled'));
  page.waitlist = Array.isArray(data.waitlist) ? data.waitlist : [];
  drawParticipants(page);
  if (focus) {
    const el = page.partsBody.querySelector(focus);
    if (el && !el.disabled) el.focus();
    else page.partsBody.querySelector('h3, table')?.focus?.();
  }
}

function drawParticipants(page) {
  const { participants, waitlist } = page;
  const presenters = participants.filter((p) => p.role === 'presenter');
  page.partsSummary.textContent = `${plural(participants.length, 'participant', 'participants')} · ${waitlist.length} on the waitlist`;

  let table;
  if (!participants.length) {
    table = h('p', { class: 'muted empty-inline', id: 'participants-empty' }, 'Nobody has registered yet.');
  } else {
    table = h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table participants-table', id: 'participants-table' },
        h('caption', { class: 'visually-hidden' }, 'Participants with their role and status'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', { scope: 'col' }, 'Name'),
            h('th', { scope: 'col' }, 'Role'),
            h('th', { scope: 'col' }, 'Status'),
            h('th', { scope: 'col' }, 'Order'),
            h('th', { scope: 'col', class: 'col-actions' }, h('span', { class: 'visually-hidden' }, 'Actions')),
          ),
        ),
        h('tbody', null, participants.map((p) => participantRow(page, p, presenters))),
      ),
    );
  }

  replace(page.partsBody, table, waitlistSection(page));
}

function participantRow(page, p, presenters) {
  const you = page.me && p.user_id === page.me.id;
  const index = presenters.indexOf(p);
  const roleSelect = h(
    'select',
    { name: 'role', class: 'input input-sm select', 'aria-label': `Role of ${p.name}`, dataset: { userId: p.user_id } },
    ROLES.map((r) => h('option', { value: r, selected: r === p.role }, roleLabel(r))),
  );
  const statusSelect = h(
    'select',
    { name: 'status', class: 'input input-sm select', 'aria-label': `Status of ${p.name}`, dataset: { userId: p.user_id } },
    PARTICIPANT_STATUSES.map((s) => h('option', { value: s, selected: s === p.status }, participantStatusLabel(s))),
  );
  roleSelect.addEventListener('change', () => updateParticipant(page, p, { role: roleSelect.value }, roleSelect, p.role));
  statusSelect.addEventListener('change', () => updateParticipant(page, p, { status: statusSelect.value }, statusSelect, p.status));

  let order = h('span', { class: 'muted' }, '—');
  if (p.role === 'presenter') {
    const up = h(
      'button',
      { type: 'button', class: 'btn btn-icon btn-secondary', dataset: { action: 'up', userId: p.user_id }, 'aria-label': `Move ${p.name} up`, disabled: index <= 0 },
      icon(ICONS.up, 'icon icon-sm'),
    );
    const down = h(
      'button',
      {
        type: 'button',
        class: 'btn btn-icon btn-secondary',
        dataset: { action: 'down', userId: p.user_id },
        'aria-label': `Move ${p.name} down`,
        disabled: index === presenters.length - 1,
      },
      icon(ICONS.down, 'icon icon-sm'),
    );
    up.addEventListener('click', () => movePresenter(page, p, -1, up));
    down.addEventListener('click', () => movePresenter(page, p, 1, down));
    order = h('span', { class: 'order-cell' }, h('span', { class: 'order-num' }, `${index + 1}`), up, down);
  }

  const remove = h(
    'button',
    { type: 'button', class: 'btn btn-sm btn-danger-ghost', dataset: { action: 'remove', userId: p.user_id }, 'aria-label': `Remove ${p.name}` },
    'Remove',
  );
  remove.addEventListener('click', () => removeParticipant(page, p, remove));

  return h(
    'tr',
    { dataset: { userId: p.user_id, role: p.role } },
    h(
      'th',
      { scope: 'row', class: 'cell-user' },
      h(
        'span',
        { class: 'user-cell' },
        h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' }, initials(p.name)),
        h(
          'span',
          { class: 'user-cell-text' },
          h('span', { class: 'user-name' }, p.name, you ? [' ', h('span', { class: 'badge badge-you' }, 'You')] : null),
          p.role === 'presenter' && p.talk_title ? h('span', { class: 'cell-sub' }, `“${p.talk_title}”`) : null,
          p.registered_at ? h('span', { class: 'cell-sub' }, `Registered ${formatDay(p.registered_at)}`) : null,
        ),
      ),
    ),
    h('td', { class: 'cell-select' }, roleSelect),
    h('td', { class: 'cell-select' }, statusSelect),
    h('td', { class: 'cell-order' }, order),
    h('td', { class: 'cell-actions' }, remove),
  );
}

function clearPanelMessages(page) {
  showFormError(page.partsError, '');
  page.partsStatus.replaceChildren();
}

async function afterParticipantChange(page, message, focus) {
  page.partsStatus.textContent = message;
  await loadParticipants(page, { focus });
  if (page.ctx.isCurrent()) page.partsStatus.textContent = message;
  refreshSession(page);
}

async function updateParticipant(page, p, change, select, previous) {
  clearPanelMessages(page);
  select.disabled = true;
  try {
    await api.patch(apiSessionPath(page.session.id, `/participants/${encodeURIComponent(p.user_id)}`), change);
    const what = change.role ? `${p.name} is now ${roleLabel(change.role).toLowerCase()}.` : `${p.name} is marked ${participantStatusLabel(change.status).toLowerCase()}.`;
    await afterParticipantChange(page, what, `select[name="${change.role ? 'role' : 'status'}"][data-user-id="${p.user_id}"]`);
  } catch (err) {
    select.value = previous;
    select.disabled = false;
    select.focus();
    reportError(err, { errorEl: page.partsError });
  }
}

async function movePresenter(page, p, delta, button) {
  clearPanelMessages(page);
  const order = page.participants.filter((x) => x.role === 'presenter').map((x) => x.user_id);
  const i = order.indexOf(p.user_id);
  const j = i + delta;
  if (i < 0 || j < 0 || j >= order.length) return;
  [order[i], order[j]] = [order[j], order[i]];
  button.disabled = true;
  try {
    await api.put(apiSessionPath(page.session.id, '/presenters/order'), { user_ids: order });
    const dir = delta < 0 ? 'up' : 'down';
    await afterParticipantChange(
      page,
      `${p.name} moved ${dir} to position ${j + 1}.`,
      `button[data-action="${dir}"][data-user-id="${p.user_id}"]:not(:disabled), button[data-action="${dir === 'up' ? 'down' : 'up'}"][data-user-id="${p.user_id}"]`,
    );
  } catch (err) {
    button.disabled = false;
    reportError(err, { errorEl: page.partsError });
  }
}

async function removeParticipant(page, p, button) {
  clearPanelMessages(page);
  const ok = await confirmDialog({
    title: `Remove ${p.name}?`,
    message: [`${p.name} will be removed from “${page.session.title}” and get an email about it.`, 'Their spot goes to the waitlist, if anyone is waiting.'],
    confirmLabel: 'Remove',
    cancelLabel: 'Keep',
    danger: true,
  });
  if (!ok || !page.ctx.isCurrent()) return;
  button.disabled = true;
  try {
    await api.del(apiSessionPath(page.session.id, `/participants/${encodeURIComponent(p.user_id)}`));
    await afterParticipantChange(page, `${p.name} was removed.`, null);
  } catch (err) {
    button.disabled = false;
    reportError(err, { errorEl: page.partsError });
  }
}

function waitlistSection(page) {
  const { waitlist } = page;
  const byRole = ROLES.map((role) => ({
    role,
    people: waitlist.filter((w) => w.role === role).sort((a, b) => (a.position ?? 0) - (b.position ?? 0)),
  })).filter((g) => g.people.length);

  return h(
    'div',
    { class: 'waitlist-admin', id: 'waitlist-admin' },
    h('h3', { class: 'subsection-title' }, 'Waitlist'),
    byRole.length
      ? byRole.map((g) =>
          h(
            'div',
            { class: 'waitlist-group', dataset: { role: g.role } },
            h('h4', { class: 'waitlist-group-title' }, roleBadge(g.role), ` ${plural(g.people.length, 'person', 'people')} waiting`),
            h(
              'ol',
              { class: 'waitlist-list' },
              g.people.map((w) =>
                h(
                  'li',
                  { class: 'waitlist-entry', dataset: { userId: w.user_id } },
                  h('span', { class: 'waitlist-pos' }, `#${w.position}`),
                  h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' }, initials(w.name)),
                  h('span', { class: 'user-name' }, w.name),
                  w.offer_expires_at
                    ? h('span', { class: 'badge badge-offer' }, `Offer until ${formatDateTime(w.offer_expires_at)}`)
                    : h('span', { class: 'muted small' }, 'Waiting'),
                ),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'Nobody is waiting.'),
  );
}
