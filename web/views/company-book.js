// The speaker's slot picker (/events/{id}/companies/{cid}/book). It renders
// exactly what GET /api/companies/{cid}/slots says — days → start times →
// durations — then title, description, format (and the speakers when an
// organizer books, or the company has several). The quota is the server's.
// Errors from POST /api/companies/{cid}/sessions appear beside the field
// they name (starts_at → the start times, duration_minutes → durations).
// Ids: #book-form, #slot-quota, #slot-days (input#slot-day-YYYY-MM-DD),
// #slot-starts (input#slot-start-HHMM), #slot-durations (input#slot-duration-N),
// [name=title|description|format|capacity], #book-submit.

import { h, icon, replace, uniqueId, viewerTimeZone } from '../dom.js';
import { api } from '../api.js';
import { field, formErrorRegion } from '../forms.js';
import { ICONS, formatDuration, formatTime, plural, sessionPath, setFlash, stateCard } from '../sessions-ui.js';
import { FORMATS, FORMAT_LABELS, companyLogo, companyPath, dayHeading, loadFailed, requireMember, rowError, showApiError } from '../events-ui.js';

const FORMAT_HINTS = {
  workshop: 'Hands-on, participants work along.',
  presentation: 'You present, then take questions.',
  coffee_chat: 'An informal conversation in a small group.',
};

export default async function render(ctx) {
  const me = await requireMember(ctx);
  if (!me) return;
  const cid = ctx.params.cid;
  let data;
  let slots;
  try {
    [data, slots] = await Promise.all([
      api.get(`/api/companies/${encodeURIComponent(cid)}`, { signal: ctx.signal }),
      api.get(`/api/companies/${encodeURIComponent(cid)}/slots`, { signal: ctx.signal }),
    ]);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    if (err.status === 403) {
      ctx.setTitle('Speakers only');
      replace(
        ctx.root,
        stateCard({
          title: 'Speakers only',
          text: 'Only this company’s speakers and the event’s organizers can book its sessions.',
          actions: [h('a', { href: companyPath(ctx.params.id, cid), class: 'btn btn-primary' }, 'Company page')],
        }),
      );
      return;
    }
    loadFailed(ctx, err, 'Company');
    return;
  }
  if (!ctx.isCurrent()) return;
  const { company, event } = data;
  ctx.setTitle(`Book a session · ${company.name}`);
  drawForm(ctx, me, company, event, slots);
}

function chipGroup({ legend, id, name, options, errorHolder }) {
  const group = h('div', { class: 'slot-chips', id, role: 'radiogroup' });
  let row = group;
  let current;
  for (const o of options) {
    if (o.group && o.group !== current) {
      current = o.group;
      row = h('div', { class: 'slot-chips-row' });
      group.append(h('div', { class: 'slot-group' }, h('span', { class: 'slot-group-label' }, o.group), row));
    }
    const input = h('input', { type: 'radio', name, value: o.value, id: o.id, class: 'slot-radio', checked: o.checked || null });
    row.append(h('label', { class: 'slot-chip', for: o.id }, input, h('span', { class: 'slot-chip-text' }, o.label, o.sub ? h('span', { class: 'slot-chip-sub' }, o.sub) : null)));
  }
  const err = rowError(group);
  if (errorHolder) errorHolder.err = err;
  return h('fieldset', { class: 'fieldset slot-step' }, h('legend', { class: 'label' }, legend), group, err.el);
}

function drawForm(ctx, me, company, event, slots) {
  const quota = slots.quota || {};
  const days = slots.days || [];
  const viewerZone = viewerTimeZone();
  const showViewer = viewerZone && viewerZone !== event.time_zone;

  const fields = {
    title: field({ name: 'title', label: 'Title', required: true, maxlength: 120, hint: 'What participants see in the Program, e.g. “Robotics coding workshop”.' }),
    description: field({ name: 'description', label: 'Description', multiline: true, rows: 4, optional: true, maxlength: 5000 }),
    capacity: field({
      name: 'capacity',
      label: 'Participant spots',
      type: 'number',
      value: String((event.settings && event.settings.default_capacity) || ''),
      hint: 'How many participants can register (at most 50).',
      class: 'field-narrow',
    }),
  };
  const errorEl = formErrorRegion();
  const daysBox = h('div', { class: 'slot-day-box' });
  const startsBox = h('div', { class: 'slot-start-box' });
  const durationsBox = h('div', { class: 'slot-duration-box' });
  const holders = { starts: {}, durations: {}, days: {} };
  fields.starts_at = { setError: (m) => holders.starts.err && holders.starts.err.setError(m), clearError: () => {}, input: startsBox };
  fields.duration_minutes = { setError: (m) => holders.durations.err && holders.durations.err.setError(m), clearError: () => {}, input: durationsBox };

  const formatName = uniqueId('format');
  const formatErr = { err: null };
  const formatGroup = h(
    'fieldset',
    { class: 'fieldset' },
    h('legend', { class: 'label' }, 'Format'),
    h(
      'div',
      { class: 'choice-grid choice-grid-3', id: 'format-choices' },
      FORMATS.map((f, i) => {
        const input = h('input', { type: 'radio', name: 'format', value: f, id: `format-${f}`, class: 'choice-radio', checked: i === 1 || null });
        return h(
          'label',
          { class: 'choice', for: input.id },
          input,
          h('span', { class: 'choice-text' }, h('span', { class: 'choice-title' }, FORMAT_LABELS[f]), h('span', { class: 'choice-hint' }, FORMAT_HINTS[f])),
        );
      }),
    ),
  );
  formatErr.err = rowError(formatGroup.querySelector('.choice-grid'));
  formatGroup.append(formatErr.err.el);
  fields.format = formatErr.err;
  void formatName;

  // Speakers: an organizer booking must name them; a speaker may add colleagues.
  const speakers = company.speakers || [];
  const iAmSpeaker = speakers.some((s) => s.user_id === me.id);
  const speakerBoxes = speakers.map((s) =>
    h('input', { type: 'checkbox', name: 'speakers', value: String(s.user_id), id: `speaker-${s.user_id}`, checked: s.user_id === me.id || (!iAmSpeaker && speakers.length === 1) || null }),
  );
  const speakersSet =
    speakers.length > 1 || !iAmSpeaker
      ? h(
          'fieldset',
          { class: 'fieldset' },
          h('legend', { class: 'label' }, 'Hosted by'),
          speakers.length
            ? h('div', { class: 'check-list', id: 'book-speakers' }, speakers.map((s, i) => h('label', { class: 'check-row', for: speakerBoxes[i].id }, speakerBoxes[i], h('span', null, s.name))))
            : h('p', { class: 'muted small' }, 'This company has no speakers yet. The organizer adds them on the event’s page.'),
        )
      : null;
  if (speakersSet) {
    const e = rowError(speakersSet);
    speakersSet.append(e.el);
    fields.speakers = e;
  }

  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'book-submit' }, 'Book this session');
  const summary = h('p', { class: 'slot-summary', id: 'slot-summary', 'aria-live': 'polite' });
  const form = h(
    'form',
    { id: 'book-form', class: 'form', novalidate: true },
    errorEl,
    h(
      'section',
      { class: 'form-section' },
      h('h2', { class: 'form-section-title' }, '1. Pick a time'),
      h('p', { class: 'small muted' }, `Times in the event’s time zone (${event.time_zone})${showViewer ? `; yours (${viewerZone}) in brackets` : ''}.`),
      daysBox,
      startsBox,
      durationsBox,
      summary,
    ),
    h('section', { class: 'form-section' }, h('h2', { class: 'form-section-title' }, '2. Describe it'), fields.title.el, fields.description.el, formatGroup, fields.capacity.el, speakersSet),
    h('div', { class: 'form-actions' }, submit, h('a', { href: companyPath(event.id, company.id), class: 'btn btn-ghost' }, 'Cancel')),
  );

  let day = null;
  let start = null;
  function pickDay(d) {
    day = d;
    start = null;
    // Shown under the window each start lies in (the windows are the server's).
    const windowOf = (local) => (d.windows || []).find((w) => local >= w.starts && local < w.ends);
    const opts = (d.starts || []).map((s) => ({
      group: windowOf(s.local) ? `${windowOf(s.local).starts}–${windowOf(s.local).ends}` : null,
      value: s.at,
      id: `slot-start-${s.local.replace(':', '')}`,
      label: s.local,
      sub: showViewer ? `(${formatTime(s.at)})` : null,
    }));
    replace(
      startsBox,
      opts.length
        ? chipGroup({ legend: 'Start time', id: 'slot-starts', name: 'starts_at', options: opts, errorHolder: holders.starts })
        : h('p', { class: 'muted empty-inline', id: 'slot-starts-empty' }, 'No start time is free on this day.'),
    );
    durationsBox.replaceChildren();
    updateSummary();
    for (const input of startsBox.querySelectorAll('input')) {
      input.addEventListener('change', () => pickStart(d.starts.find((s) => s.at === input.value)));
    }
  }
  function pickStart(s) {
    start = s;
    const opts = (s.durations || []).map((m, i) => ({ value: String(m), id: `slot-duration-${m}`, label: formatDuration(m), checked: i === 0 }));
    replace(durationsBox, chipGroup({ legend: 'Duration', id: 'slot-durations', name: 'duration_minutes', options: opts, errorHolder: holders.durations }));
    for (const input of durationsBox.querySelectorAll('input')) input.addEventListener('change', updateSummary);
    updateSummary();
  }
  function chosenDuration() {
    const input = durationsBox.querySelector('input:checked');
    return input ? Number(input.value) : null;
  }
  function updateSummary() {
    const minutes = chosenDuration();
    if (!day || !start || !minutes) {
      replace(summary, h('span', { class: 'muted' }, 'Pick a day, a start time and a duration.'));
      return;
    }
    const end = new Date(new Date(start.at).getTime() + minutes * 60000).toISOString();
    replace(summary, icon(ICONS.calendar, 'icon icon-sm'), h('span', null, h('strong', null, dayHeading(day.day)), ` · ${formatTime(start.at, event.time_zone)}–${formatTime(end, event.time_zone)} (${formatDuration(minutes)})`));
  }

  const withStarts = days.filter((d) => (d.starts || []).length);
  if (!days.length) {
    replace(daysBox, h('p', { class: 'muted empty-inline', id: 'slot-days-empty' }, 'The organizers have not opened any time windows yet.'));
  } else {
    daysBox.append(
      chipGroup({
        legend: 'Day',
        id: 'slot-days',
        name: 'day',
        errorHolder: holders.days,
        options: days.map((d) => ({
          value: d.day,
          id: `slot-day-${d.day}`,
          label: dayHeading(d.day),
          sub: `${(d.windows || []).map((w) => `${w.starts}–${w.ends}`).join(', ')} · ${plural((d.starts || []).length, 'start', 'starts')}`,
        })),
      }),
    );
    for (const input of daysBox.querySelectorAll('input')) {
      input.addEventListener('change', () => pickDay(days.find((d) => d.day === input.value)));
    }
    if (!withStarts.length) {
      startsBox.append(h('p', { class: 'muted empty-inline', id: 'slot-starts-empty' }, 'Every slot is taken. Ask the organizers for more time windows.'));
    }
  }
  updateSummary();

  let busy = false;
  form.addEventListener('submit', async (event_) => {
    event_.preventDefault();
    if (busy) return;
    errorEl.replaceChildren();
    for (const f of Object.values(fields)) if (f.clearError) f.clearError();
    for (const hd of Object.values(holders)) if (hd.err) hd.err.clearError();
    const problems = [];
    if (!start) problems.push(['starts_at', 'Pick a start time.']);
    else if (!chosenDuration()) problems.push(['duration_minutes', 'Pick a duration.']);
    if (!fields.title.input.value.trim()) problems.push(['title', 'Give the session a title.']);
    if (problems.length) {
      for (const [k, m] of problems) fields[k].setError(m);
      errorEl.replaceChildren(problems.length === 1 ? problems[0][1] : 'Please fix the highlighted fields.');
      return;
    }
    const body = {
      starts_at: start.at,
      duration_minutes: chosenDuration(),
      title: fields.title.input.value.trim(),
      description: fields.description.input.value,
      format: (form.querySelector('input[name=format]:checked') || {}).value,
    };
    const cap = fields.capacity.input.value.trim();
    if (cap) body.capacity = Number(cap);
    if (speakersSet) {
      const chosen = speakerBoxes.filter((b) => b.checked).map((b) => Number(b.value));
      if (chosen.length) body.speakers = chosen;
    }
    busy = true;
    submit.disabled = true;
    submit.textContent = 'Booking…';
    try {
      const res = await api.post(`/api/companies/${encodeURIComponent(company.id)}/sessions`, body);
      const s = res.session;
      setFlash('Booked. Your session is in the Program and participants can register now.', `session:${s.id}`);
      ctx.navigate(sessionPath(s.id));
    } catch (err) {
      showApiError(err, { fields, errorEl });
      submit.disabled = false;
      submit.textContent = 'Book this session';
    } finally {
      busy = false;
    }
  });

  ctx.root.append(
    h(
      'div',
      { class: 'container narrow-wide book-page' },
      h('a', { href: companyPath(event.id, company.id), class: 'back-link' }, icon(ICONS.arrowLeft, 'icon icon-sm'), company.name),
      h(
        'div',
        { class: 'page-head' },
        h('div', { class: 'book-head' }, companyLogo(company, 'md'), h('div', null, h('h1', { class: 'page-title' }, 'Book a session'), h('p', { class: 'muted' }, `${company.name} at ${event.name}`))),
        h(
          'p',
          { class: 'quota', id: 'slot-quota' },
          h('strong', null, `${quota.booked ?? 0} of ${quota.allowed ?? 0}`),
          ' sessions booked',
        ),
      ),
      h('div', { class: 'card editor-card' }, form),
    ),
  );
}
