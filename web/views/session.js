// Session detail: what, when (in the viewer's zone), where, the run of show,
// who takes part, and the registration panel (register with a role, join or
// leave the waitlist, claim an offered spot, cancel).

import { h, icon, replace, initials, uniqueId } from '../dom.js';
import { api } from '../api.js';
import { getState, loadMe, communityName } from '../state.js';
import { field, formErrorRegion, formStatusRegion, handleSubmit, submitButton, reportError, showFormError } from '../forms.js';
import {
  ICONS,
  ROLES,
  acceptsRegistrations,
  adminSessionPath,
  apiSessionPath,
  capacityOf,
  confirmDialog,
  filledOf,
  formatDateTime,
  formatDuration,
  formatTime,
  freeOf,
  heldOf,
  offeredRoles,
  participantStatusBadge,
  plural,
  roleBadge,
  roleGroupLabel,
  roleLabel,
  safeHttpUrl,
  sessionPath,
  statusBadge,
  stateCard,
  takeFlash,
  takenText,
  totals,
  waitingOf,
  whenBlock,
  youBadge,
  zoneAbbreviation,
} from '../sessions-ui.js';
import { materialsCard } from './session-materials.js';
import { FORMATS, FORMAT_LABELS, eventPath, eventTag, showApiError } from '../events-ui.js';
import { confirmEmailNotice } from '../confirm-email.js';

const ROLE_BLURBS = {
  host: 'Opens the session, moderates and wraps up.',
  presenter: 'Gives a short talk, followed by Q&A.',
  interviewer: 'Leads the Q&A after each talk.',
  guest: 'Watches, asks questions and joins the discussion.',
};

const KIND_LABELS = {
  opening: 'Opening',
  talk: 'Talk',
  qa: 'Q&A',
  discussion: 'Discussion',
  wrap_up: 'Wrap-up',
};

export default async function render(ctx) {
  const id = ctx.params.id;
  ctx.setTitle('Session');
  ctx.root.append(h('div', { class: 'container' }, h('p', { class: 'muted loading' }, 'Loading session…')));

  const page = { ctx, id, data: null };
  let data;
  try {
    data = await fetchSession(page);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    showLoadError(ctx, err);
    return;
  }
  if (!ctx.isCurrent()) return;
  page.data = data;
  draw(page, { flash: takeFlash(`session:${id}`) });
}

async function fetchSession(page) {
  const body = await api.get(apiSessionPath(page.id), { signal: page.ctx.signal });
  if (!body || !body.session) throw new Error('The server sent an unexpected response.');
  return {
    session: body.session,
    participants: Array.isArray(body.participants) ? body.participants : [],
    runOfShow: Array.isArray(body.run_of_show) ? body.run_of_show : [],
    mine: body.me || null,
    can: body.can || { register: {}, manage: false },
  };
}

function showLoadError(ctx, err) {
  if (err.status === 404) {
    ctx.setTitle('Session not found');
    replace(
      ctx.root,
      stateCard({
        code: '404',
        title: 'Session not found',
        text: 'This session doesn’t exist, or it isn’t published yet.',
        actions: [h('a', { href: '/', class: 'btn btn-primary' }, 'See upcoming sessions')],
      }),
    );
    return;
  }
  ctx.setTitle('Session');
  replace(
    ctx.root,
    stateCard({
      title: 'Couldn’t load this session',
      text: err.message,
      alert: true,
      actions: [
        h('button', { type: 'button', class: 'btn btn-primary', onclick: () => ctx.redirect(ctx.path) }, 'Try again'),
        h('a', { href: '/', class: 'btn btn-secondary' }, 'Go to home'),
      ],
    }),
  );
}

/**
 * Fetch fresh data and redraw in place; `flash` shows in the panel's status
 * line. `quiet` (a timer, not the person) leaves the focus where it is.
 */
async function reload(page, { flash, errorEl, quiet = false } = {}) {
  try {
    const data = await fetchSession(page);
    if (!page.ctx.isCurrent()) return;
    page.data = data;
    draw(page, { flash, focusPanel: !quiet });
  } catch (err) {
    if (err.name === 'AbortError' || !page.ctx.isCurrent()) return;
    if (errorEl) showFormError(errorEl, `${flash ? `${flash} ` : ''}Couldn’t refresh the page: ${err.message}`);
  }
}

function myRegistration(mine) {
  const reg = mine && mine.registration;
  return reg && reg.status !== 'cancelled' ? reg : null;
}

/* ----------------------------------------------------------------- Draw */

function draw(page, { flash = null, focusPanel = false } = {}) {
  const { ctx } = page;
  const { session, can } = page.data;
  const user = getState().me;
  ctx.setTitle(session.title);

  const panel = registrationPanel(page, user, flash);

  const head = h(
    'header',
    { class: 'session-head' },
    h(
      'div',
      { class: 'session-head-top' },
      h('div', { class: 'badges' }, statusBadge(session.status), session.status === 'cancelled' ? null : myBadge(page.data.mine, session.status)),
      can.manage && !session.event
        ? h(
            'a',
            { href: adminSessionPath(session.id), class: 'btn btn-secondary btn-sm', id: 'manage-session' },
            icon(ICONS.edit, 'icon icon-sm'),
            'Manage session',
          )
        : null,
      can.manage && session.event ? cancelEventSession(page) : null,
    ),
    h('h1', { class: 'page-title session-title', id: 'session-title' }, session.title),
    eventTag(session, { cls: 'event-tag event-tag-lg' }),
    whenBlock(session, { cls: 'when when-lg' }),
    facts(session),
    session.status === 'cancelled'
      ? h(
          'div',
          { class: 'banner banner-error session-banner', role: 'note' },
          icon(ICONS.alert),
          h('p', null, h('strong', null, 'This session was cancelled. '), 'Everyone who had registered has been emailed.'),
        )
      : null,
    session.status === 'in_progress'
      ? h(
          'div',
          { class: 'banner banner-live session-banner', role: 'note' },
          h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
          h('p', null, h('strong', null, 'Happening now. '), session.live_now ? 'The live room is open.' : 'The session has started.'),
        )
      : null,
    session.status === 'completed'
      ? h(
          'div',
          { class: 'banner banner-info session-banner', id: 'session-over', role: 'note' },
          icon(ICONS.check),
          h('p', null, h('strong', null, 'This session is over. '), 'Thanks to everyone who took part.'),
        )
      : null,
  );

  const about = h(
    'section',
    { class: 'card session-section session-about', 'aria-labelledby': 'about-title' },
    h('h2', { class: 'card-title', id: 'about-title' }, 'About this session'),
    session.description
      ? h('p', { class: 'session-description', id: 'session-description' }, session.description)
      : h('p', { class: 'muted' }, 'No description yet.'),
  );

  replace(
    ctx.root,
    h(
      'div',
      { class: 'container session-page', dataset: { sessionId: session.id } },
      session.event
        ? h('a', { href: eventPath(session.event.id), class: 'back-link' }, icon(ICONS.arrowLeft, 'icon icon-sm'), session.event.name)
        : h('a', { href: '/', class: 'back-link' }, icon(ICONS.arrowLeft, 'icon icon-sm'), 'All sessions'),
      h(
        'div',
        { class: 'session-layout' },
        head,
        about,
        h('aside', { class: 'session-aside', 'aria-label': 'Registration and location' }, panel, locationCard(page)),
        h(
          'div',
          { class: 'session-main' },
          can.manage && session.event ? eventSessionEditor(page) : null,
          runOfShow(page, user),
          user ? materialsCard(session.id) : null,
          participantsSection(page, user),
        ),
      ),
    ),
  );

  if (focusPanel) {
    const title = panel.querySelector('h2');
    if (title) {
      title.setAttribute('tabindex', '-1');
      title.focus({ preventScroll: false });
    }
  }
}

function myBadge(mine, status) {
  const over = status === 'completed';
  if (myRegistration(mine)) return h('span', { class: 'badge badge-you' }, icon(ICONS.check, 'icon icon-xs'), over ? 'You took part' : 'You’re registered');
  if (mine && mine.waitlist && !over) return h('span', { class: 'badge badge-waitlist' }, 'You’re on the waitlist');
  return null;
}

function facts(session) {
  const t = totals(session);
  const items = [
    h(
      'li',
      null,
      icon(ICONS.clock, 'icon icon-sm'),
      h(
        'span',
        null,
        formatDuration(session.duration_minutes),
        session.talk_minutes ? ` · ${session.talk_minutes} min talks` : '',
        session.qa_minutes ? ` + ${session.qa_minutes} min Q&A` : '',
      ),
    ),
    h(
      'li',
      null,
      icon(session.location === 'external' ? ICONS.link : ICONS.video, 'icon icon-sm'),
      h('span', null, session.location === 'external' ? 'External meeting' : 'Live room in the browser'),
    ),
    t.capacity ? h('li', null, icon(ICONS.users, 'icon icon-sm'), h('span', null, takenText(session))) : null,
  ];
  return h('ul', { class: 'session-facts' }, items);
}

/* ------------------------------------------------------------- Location */

function locationCard(page) {
  const { session } = page.data;
  const registered = Boolean(myRegistration(page.data.mine));
  const url = safeHttpUrl(session.meeting_url);
  const external = session.location === 'external';
  const over = session.status === 'completed' || session.status === 'cancelled';

  const body = [];
  if (over) {
    // Nothing to join any more.
    body.push(
      h(
        'p',
        { class: 'location-kind' },
        icon(external ? ICONS.link : ICONS.video, 'icon icon-sm'),
        external ? 'External meeting' : `Live room on ${communityName()}`,
      ),
    );
    body.push(
      h(
        'p',
        { class: 'muted small', id: 'location-closed' },
        session.status === 'cancelled' ? 'The session was cancelled.' : external ? 'The meeting is over.' : 'The live room is closed: this session is over.',
      ),
    );
  } else if (external) {
    body.push(h('p', { class: 'location-kind' }, icon(ICONS.link, 'icon icon-sm'), 'External meeting'));
  } else {
    body.push(h('p', { class: 'location-kind' }, icon(ICONS.video, 'icon icon-sm'), `Live room on ${communityName()}`));
    body.push(
      h(
        'p',
        { class: 'muted small' },
        session.live_now
          ? 'The host has opened the session: join right here in your browser. No app to install.'
          : 'Join right here in your browser when the host opens the session. No app to install.',
      ),
    );
    body.push(liveRoomAction(page));
  }
  if (url && !over) {
    body.push(
      h(
        'a',
        { href: url, class: 'btn btn-primary btn-block', id: 'join-meeting', target: '_blank', rel: 'noopener noreferrer' },
        icon(ICONS.video, 'icon icon-sm'),
        'Join Meeting',
        h('span', { class: 'visually-hidden' }, ' (opens in a new tab)'),
      ),
    );
    body.push(h('p', { class: 'meeting-url break' }, url));
    if (session.meeting_password) {
      body.push(
        h(
          'p',
          { class: 'meeting-password' },
          icon(ICONS.lock, 'icon icon-sm'),
          'Password: ',
          h('code', { id: 'meeting-password' }, session.meeting_password),
        ),
      );
    }
  } else if (external && !over) {
    body.push(
      h(
        'p',
        { class: 'muted small' },
        registered
          ? 'The meeting link will appear here once the organisers add it.'
          : 'The meeting link is shown here to registered participants.',
      ),
    );
  }

  return h(
    'section',
    { class: 'card location-card', id: 'location-card', 'aria-labelledby': 'location-title' },
    h('h2', { class: 'card-title', id: 'location-title' }, 'Where'),
    body,
  );
}

/* ------------------------------------------------------------ Live room */

/**
 * The way into the live room (/sessions/:id/live), as the server decides it
 * (`can.join_live`, `can.live_waiting_room`, `can.live_opens_at`): "Join live
 * room" (#join-live), or a link to the waiting room (#live-waiting-link)
 * until it opens, when the page asks the server again.
 */
function liveRoomAction(page) {
  const { session, can } = page.data;
  const href = `${sessionPath(session.id)}/live`;
  if (can.join_live) {
    return h(
      'a',
      { href, class: 'btn btn-primary btn-block', id: 'join-live' },
      session.status === 'in_progress' ? h('span', { class: 'live-dot', 'aria-hidden': 'true' }) : icon(ICONS.video, 'icon icon-sm'),
      'Join live room',
    );
  }
  const wait = can.live_opens_at ? new Date(can.live_opens_at).getTime() - Date.now() : NaN;
  if (wait > 0 && wait < 6 * 3600 * 1000) {
    clearTimeout(page.liveTimer);
    page.liveTimer = setTimeout(() => {
      if (page.ctx.isCurrent() && page.data) reload(page, { quiet: true });
    }, wait + 500);
  }
  if (!can.live_waiting_room) return null;
  return h(
    'a',
    { href, class: 'btn btn-secondary btn-block', id: 'live-waiting-link' },
    icon(ICONS.clock, 'icon icon-sm'),
    'Open the waiting room',
  );
}

/* ---------------------------------------------------------- Run of show */

function runOfShow(page, user) {
  const { session, runOfShow: items } = page.data;
  const zone = zoneAbbreviation(session.starts_at);
  let content;
  if (!items.length) {
    content = h('p', { class: 'muted' }, 'The run of show appears here once presenters have signed up.');
  } else {
    content = h(
      'ol',
      { class: 'timeline', id: 'run-of-show-list' },
      items.map((item) => {
        const mine = user && item.presenter_user_id != null && item.presenter_user_id === user.id;
        const minutes = item.starts_at && item.ends_at ? Math.round((new Date(item.ends_at) - new Date(item.starts_at)) / 60000) : null;
        return h(
          'li',
          { class: ['timeline-item', `kind-${item.kind}`, mine && 'is-you'], dataset: { kind: item.kind } },
          h('time', { class: 'timeline-time', datetime: item.starts_at || null }, formatTime(item.starts_at)),
          h('span', { class: 'timeline-dot', 'aria-hidden': 'true' }),
          h(
            'div',
            { class: 'timeline-body' },
            h('span', { class: 'timeline-title' }, item.title || KIND_LABELS[item.kind] || ''),
            h(
              'span',
              { class: 'timeline-meta' },
              [
                item.title && item.title !== KIND_LABELS[item.kind] ? KIND_LABELS[item.kind] : null,
                minutes != null ? `${minutes} min` : null,
              ]
                .filter(Boolean)
                .join(' · '),
              mine ? [' · ', youBadge()] : null,
            ),
          ),
        );
      }),
    );
  }
  return h(
    'section',
    { class: 'card session-section', id: 'run-of-show', 'aria-labelledby': 'ros-title' },
    h(
      'div',
      { class: 'section-card-head' },
      h('h2', { class: 'card-title', id: 'ros-title' }, 'Run of show'),
      zone ? h('span', { class: 'muted small' }, `Times in your time zone (${zone})`) : null,
    ),
    content,
  );
}

/* --------------------------------------------------------- Participants */

function participantsSection(page, user) {
  const { session, participants } = page.data;
  const t = totals(session);
  const roles = ROLES.filter((r) => capacityOf(session, r) > 0 || participants.some((p) => p.role === r));
  const accepting = acceptsRegistrations(session);

  const groups = roles.map((role) => {
    let people = participants.filter((p) => p.role === role && p.status !== 'cancelled');
    if (role === 'presenter') {
      people = people.slice().sort((a, b) => (a.presenter_order ?? 1e9) - (b.presenter_order ?? 1e9));
    }
    const cap = capacityOf(session, role);
    const filled = Math.max(filledOf(session, role), people.length);
    const free = freeOf(session, role);
    const held = heldOf(session, role);
    const waiting = waitingOf(session, role);

    const list = people.map((p, i) => {
      const you = user && p.user_id === user.id;
      return h(
        'li',
        { class: ['person', you && 'is-you'], dataset: { userId: p.user_id, role: p.role } },
        h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(p.name)),
        h(
          'div',
          { class: 'person-text' },
          h(
            'span',
            { class: 'person-name' },
            role === 'presenter' ? h('span', { class: 'person-order', 'aria-label': `Presenter ${i + 1}:` }, `${i + 1}.`) : null,
            h('span', null, p.name),
            you ? youBadge() : null,
            roleBadge(p.role),
          ),
          role === 'presenter' && p.talk_title ? h('span', { class: 'person-talk' }, `“${p.talk_title}”`) : null,
          role === 'presenter' && p.talk_description ? h('span', { class: 'person-talk-desc' }, p.talk_description) : null,
        ),
      );
    });
    if (held > 0) {
      list.push(
        h(
          'li',
          { class: 'person is-held' },
          h('span', { class: 'avatar avatar-open', 'aria-hidden': 'true' }, icon(ICONS.clock, 'icon icon-xs')),
          h('span', { class: 'person-text muted' }, `${plural(held, 'spot', 'spots')} held for the waitlist`),
        ),
      );
    }
    if (free > 0 && accepting) {
      list.push(
        h(
          'li',
          { class: 'person is-open' },
          h('span', { class: 'avatar avatar-open', 'aria-hidden': 'true' }, '+'),
          h('span', { class: 'person-text muted' }, `${plural(free, 'open spot', 'open spots')}`),
        ),
      );
    }
    if (!list.length) list.push(h('li', { class: 'person is-empty muted' }, 'Nobody yet.'));

    return h(
      'div',
      { class: 'role-group', dataset: { role } },
      h(
        'h3',
        { class: 'role-group-title' },
        h('span', null, roleGroupLabel(role, cap)),
        h('span', { class: ['role-count', cap && free === 0 && 'is-full'] }, `${Math.min(filled, cap || filled)}/${cap}`),
        waiting ? h('span', { class: 'role-waiting' }, `${waiting} waiting`) : null,
      ),
      h('ul', { class: 'people' }, list),
    );
  });

  return h(
    'section',
    { class: 'card session-section', id: 'participants', 'aria-labelledby': 'participants-title' },
    h(
      'div',
      { class: 'section-card-head' },
      h('h2', { class: 'card-title', id: 'participants-title' }, 'Participants'),
      t.capacity ? h('span', { class: 'muted small' }, takenText(session)) : null,
    ),
    h('div', { class: 'role-groups' }, groups),
  );
}

/* --------------------------------------------------- Registration panel */

function panelShell(title, errorEl, statusEl, flash, ...body) {
  if (flash) statusEl.textContent = flash;
  return h(
    'section',
    { class: 'card registration-panel', id: 'registration-panel', 'aria-labelledby': 'registration-title' },
    h('h2', { class: 'card-title', id: 'registration-title' }, title),
    statusEl,
    errorEl,
    body,
  );
}

function registrationPanel(page, user, flash) {
  const { session, mine } = page.data;
  const errorEl = formErrorRegion();
  const statusEl = formStatusRegion();
  const reg = myRegistration(mine);
  const waitlist = mine && mine.waitlist;

  if (session.status === 'cancelled') {
    return panelShell('Registration', errorEl, statusEl, flash, h('p', { class: 'muted' }, 'This session was cancelled, so registration is closed.'));
  }
  if (session.status === 'completed') {
    return panelShell(
      'Registration',
      errorEl,
      statusEl,
      flash,
      h('p', { class: 'muted' }, reg ? ['This session is over. You took part as ', roleBadge(reg.role), '.'] : 'This session is over.'),
    );
  }
  if (!user) return signedOutPanel(page, errorEl, statusEl, flash);
  if (reg) return registeredPanel(page, reg, errorEl, statusEl, flash);
  if (waitlist) return waitlistPanel(page, waitlist, errorEl, statusEl, flash);
  const unconfirmed = Object.values((page.data.can && page.data.can.register) || {}).find((r) => r && r.code === 'email_unverified');
  if (acceptsRegistrations(session) && unconfirmed) {
    return panelShell('Register', errorEl, statusEl, flash, confirmEmailNotice(unconfirmed.reason));
  }
  if (acceptsRegistrations(session)) {
    return session.event ? oneClickPanel(page, errorEl, statusEl, flash) : registerForm(page, user, errorEl, statusEl, flash);
  }

  const why = {
    closed: 'Registration for this session is closed.',
    in_progress: 'This session is already under way, so registration is closed.',
    draft: 'This session is a draft. Publish it to open registration.',
  };
  return panelShell('Registration', errorEl, statusEl, flash, h('p', { class: 'muted' }, why[session.status] || 'Registration is not open.'));
}

function signedOutPanel(page, errorEl, statusEl, flash) {
  const { session } = page.data;
  const next = encodeURIComponent(sessionPath(session.id));
  if (!acceptsRegistrations(session)) {
    return panelShell('Registration', errorEl, statusEl, flash, h('p', { class: 'muted' }, 'Registration is not open for this session.'));
  }
  const free = offeredRoles(session).filter((r) => freeOf(session, r) > 0);
  return panelShell(
    'Take part',
    errorEl,
    statusEl,
    flash,
    h(
      'p',
      { class: 'muted' },
      session.status === 'full'
        ? 'Every spot is taken, but you can join the waitlist.'
        : `Spots are open for ${free.map((r) => roleLabel(r).toLowerCase()).join(', ')}.`,
    ),
    h(
      'a',
      { href: `/signin?next=${next}`, class: 'btn btn-primary btn-block', id: 'signin-to-register' },
      'Sign in to register',
    ),
    h('p', { class: 'panel-foot' }, 'New here? ', h('a', { href: `/signup?next=${next}` }, 'Create an account')),
  );
}

function registeredPanel(page, reg, errorEl, statusEl, flash) {
  const { session, can } = page.data;
  const canCancel = Boolean(can && can.cancel_registration);
  const cancel = canCancel
    ? h('button', { type: 'button', class: 'btn btn-danger-outline btn-block', id: 'cancel-registration' }, 'Cancel registration')
    : null;

  if (cancel) {
    cancel.addEventListener('click', async () => {
      showFormError(errorEl, '');
      statusEl.replaceChildren();
      const ok = await confirmDialog({
        title: 'Cancel your registration?',
        message: [
          `You’ll give up your ${roleLabel(reg.role).toLowerCase()} spot in “${session.title}”.`,
          'The spot goes to the next person on the waitlist. You can register again later if spots are still free.',
        ],
        confirmLabel: 'Cancel registration',
        cancelLabel: 'Keep my spot',
        danger: true,
      });
      if (!ok || !page.ctx.isCurrent()) return;
      cancel.disabled = true;
      cancel.setAttribute('aria-busy', 'true');
      cancel.textContent = 'Cancelling…';
      try {
        await api.del(apiSessionPath(session.id, '/registrations/me'));
        await reload(page, { flash: 'Your registration was cancelled. We’ve emailed you a confirmation.', errorEl });
      } catch (err) {
        cancel.disabled = false;
        cancel.removeAttribute('aria-busy');
        cancel.textContent = 'Cancel registration';
        if (err.code === 'not_registered') {
          await reload(page, { flash: 'You were no longer registered for this session.', errorEl });
          return;
        }
        reportError(err, { errorEl });
      }
    });
  }

  return panelShell(
    'Your registration',
    errorEl,
    statusEl,
    flash,
    h('p', { class: 'registered-as', id: 'registered-as' }, 'You’re registered as ', roleBadge(reg.role, 'badge-lg')),
    h(
      'dl',
      { class: 'details details-compact' },
      h('div', null, h('dt', null, 'Status'), h('dd', null, participantStatusBadge(reg.status))),
      reg.role === 'presenter'
        ? h('div', null, h('dt', null, 'Your talk'), h('dd', { class: 'break' }, reg.talk_title || 'Title to be announced'))
        : null,
      reg.role === 'guest' && reg.topics ? h('div', null, h('dt', null, 'Your topics'), h('dd', { class: 'pre-line break' }, reg.topics)) : null,
    ),
    h('p', { class: 'muted small' }, 'We’ve emailed you the details. It’s also on ', h('a', { href: '/schedule' }, 'your schedule'), '.'),
    cancel,
  );
}

function waitlistPanel(page, waitlist, errorEl, statusEl, flash) {
  const { session } = page.data;
  const expires = waitlist.offer_expires_at ? new Date(waitlist.offer_expires_at) : null;
  const offer = expires && !Number.isNaN(expires.getTime());

  const leave = h('button', { type: 'button', class: 'btn btn-secondary btn-block', id: 'leave-waitlist' }, 'Leave waitlist');
  leave.addEventListener('click', async () => {
    showFormError(errorEl, '');
    statusEl.replaceChildren();
    const ok = await confirmDialog({
      title: 'Leave the waitlist?',
      message: 'You’ll lose your place in the queue. If you join again later, you go to the back.',
      confirmLabel: 'Leave waitlist',
      cancelLabel: 'Stay on it',
      danger: true,
    });
    if (!ok || !page.ctx.isCurrent()) return;
    leave.disabled = true;
    try {
      await api.del(apiSessionPath(session.id, '/waitlist/me'));
      await reload(page, { flash: 'You left the waitlist.', errorEl });
    } catch (err) {
      leave.disabled = false;
      reportError(err, { errorEl });
    }
  });

  let offerBox = null;
  if (offer) {
    const accept = h('button', { type: 'button', class: 'btn btn-primary btn-block', id: 'accept-offer' }, 'Claim my spot');
    accept.addEventListener('click', async () => {
      showFormError(errorEl, '');
      statusEl.replaceChildren();
      accept.disabled = true;
      accept.setAttribute('aria-busy', 'true');
      accept.textContent = 'Claiming…';
      try {
        await api.post(apiSessionPath(session.id, '/waitlist/accept'));
        await reload(page, { flash: `The spot is yours: you’re registered as ${roleLabel(waitlist.role)}.`, errorEl });
      } catch (err) {
        accept.disabled = false;
        accept.removeAttribute('aria-busy');
        accept.textContent = 'Claim my spot';
        if (err.code === 'offer_expired' || err.code === 'no_offer') {
          await reload(page, { errorEl });
          const region = document.getElementById('form-error');
          if (region) showFormError(region, err.message);
          return;
        }
        reportError(err, { errorEl });
      }
    });
    offerBox = h(
      'div',
      { class: 'offer', id: 'waitlist-offer' },
      h('p', { class: 'offer-title' }, `A spot opened for you — claim it before ${formatDateTime(expires)}`),
      h('p', { class: 'offer-text' }, `After that, the ${roleLabel(waitlist.role).toLowerCase()} spot goes to the next person on the waitlist.`),
      accept,
    );
  }

  return panelShell(
    'You’re on the waitlist',
    errorEl,
    statusEl,
    flash,
    offerBox,
    h(
      'p',
      { class: 'waitlist-position', id: 'waitlist-position' },
      'Position ',
      h('strong', null, String(waitlist.position ?? '–')),
      ' on the waitlist for ',
      roleBadge(waitlist.role),
    ),
    offer ? null : h('p', { class: 'muted small' }, 'We’ll email you when a spot opens. You’ll then have a limited time to claim it.'),
    leave,
  );
}

/** Radio buttons for the role, with free slots and the server's reason when unavailable. */
function roleChooser(page) {
  const { session, can } = page.data;
  const rules = (can && can.register) || {};
  const legendId = uniqueId('role-legend');
  const errorId = uniqueId('role-error');
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  const inputs = [];

  const options = offeredRoles(session).map((role) => {
    const rule = rules[role] || { allowed: true, reason: null };
    const allowed = rule.allowed !== false;
    const free = freeOf(session, role);
    const cap = capacityOf(session, role);
    const full = Boolean(rule.full) || free === 0;
    const metaId = uniqueId(`role-${role}-meta`);
    const input = h('input', {
      type: 'radio',
      name: 'role',
      value: role,
      id: `register-role-${role}`,
      class: 'role-radio',
      disabled: !allowed,
      'aria-describedby': metaId,
    });
    inputs.push(input);
    let meta;
    if (!allowed) meta = rule.reason || 'Not available to you.';
    else if (full && heldOf(session, role)) meta = `${heldOf(session, role) === 1 ? 'The last spot is' : 'The last spots are'} held for the waitlist · join the waitlist`;
    else if (full) meta = `Full · join the waitlist${waitingOf(session, role) ? ` (${waitingOf(session, role)} waiting)` : ''}`;
    else meta = `${free} of ${cap} ${cap === 1 ? 'spot' : 'spots'} left`;
    return h(
      'label',
      { class: ['role-option', !allowed && 'is-disabled', full && allowed && 'is-full'], for: input.id, dataset: { role } },
      input,
      h(
        'span',
        { class: 'role-option-text' },
        h(
          'span',
          { class: 'role-option-name' },
          roleLabel(role),
          full && allowed ? h('span', { class: 'role-option-flag' }, ' (waitlist)') : null,
          !allowed && rule.code === 'premium_required' ? h('span', { class: 'badge badge-premium' }, 'Premium') : null,
        ),
        h('span', { class: 'role-option-blurb' }, ROLE_BLURBS[role]),
        h('span', { class: ['role-option-meta', !allowed && 'is-reason'], id: metaId }, meta),
      ),
    );
  });

  const el = h(
    'fieldset',
    { class: 'field fieldset', 'aria-labelledby': legendId, id: 'register-role' },
    h('legend', { class: 'label', id: legendId }, 'Choose your role'),
    h('div', { class: 'role-options' }, options),
    error,
  );

  const selected = () => inputs.find((i) => i.checked) || null;
  function setError(message) {
    error.replaceChildren(message);
    error.hidden = false;
    el.classList.add('has-error');
    for (const i of inputs) i.setAttribute('aria-invalid', 'true');
  }
  function clearError() {
    if (error.hidden) return;
    error.hidden = true;
    error.replaceChildren();
    el.classList.remove('has-error');
    for (const i of inputs) i.removeAttribute('aria-invalid');
  }
  for (const i of inputs) i.addEventListener('change', clearError);

  // Preselect the only possible choice, or "guest" when it has room.
  const usable = inputs.filter((i) => !i.disabled);
  const guest = usable.find((i) => i.value === 'guest' && freeOf(session, 'guest') > 0);
  if (usable.length === 1) usable[0].checked = true;
  else if (guest) guest.checked = true;

  return {
    el,
    inputs,
    selected,
    get input() {
      return selected() || inputs.find((i) => !i.disabled) || inputs[0];
    },
    setError,
    clearError,
  };
}

/**
 * Event sessions: the company's speakers and the organizers may cancel (it
 * frees the company's quota and the slot; participants are emailed). The
 * server says who may (`can.manage`) and refuses what is too late.
 */
function cancelEventSession(page) {
  const { session } = page.data;
  if (['cancelled', 'completed', 'in_progress'].includes(session.status)) return null;
  const button = h('button', { type: 'button', class: 'btn btn-danger-outline btn-sm', id: 'cancel-event-session' }, 'Cancel session');
  button.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Cancel this session?',
      message: 'Everyone registered is emailed, and the slot goes back to your company’s quota. This cannot be undone.',
      confirmLabel: 'Cancel session',
      cancelLabel: 'Keep it',
      danger: true,
    });
    if (!ok) return;
    button.disabled = true;
    try {
      await api.post(apiSessionPath(session.id, '/cancel'), {});
      await reload(page, { flash: 'The session is cancelled. Participants have been emailed.' });
    } catch (err) {
      button.disabled = false;
      error.replaceChildren(err.message);
    }
  });
  const error = h('p', { class: 'form-error', role: 'alert', id: 'cancel-event-error' });
  return h('div', { class: 'session-head-actions' }, button, error);
}

/**
 * Event sessions: the company's speakers and the organizers edit the title,
 * description, format and spots here (PATCH /api/sessions/{id}); the server
 * checks every limit and names the field it refuses.
 */
function eventSessionEditor(page) {
  const { session } = page.data;
  if (['cancelled', 'completed'].includes(session.status)) return null;
  const fields = {
    title: field({ name: 'title', label: 'Title', required: true, maxlength: 120, value: session.title }),
    description: field({ name: 'description', label: 'Description', multiline: true, rows: 4, optional: true, value: session.description || '' }),
    capacity: field({ name: 'capacity', label: 'Participant spots', type: 'number', value: String(capacityOf(session, 'guest')), class: 'field-narrow' }),
  };
  fields['capacity.guest'] = fields.capacity;
  const format = h('select', { class: 'input select', name: 'format', id: 'edit-format' }, FORMATS.map((f) => h('option', { value: f }, FORMAT_LABELS[f])));
  format.value = session.event.format || 'presentation';
  const formatField = h('div', { class: 'field' }, h('label', { class: 'label', for: 'edit-format' }, 'Format'), format);
  const errorEl = formErrorRegion();
  const button = submitButton('Save changes');
  button.id = 'save-event-session';
  const form = h('form', { id: 'event-session-form', class: 'form', novalidate: true }, errorEl, fields.title.el, fields.description.el, h('div', { class: 'field-row' }, formatField, fields.capacity.el), h('div', { class: 'form-actions' }, button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showFormError(errorEl, '');
    for (const f of Object.values(fields)) f.clearError();
    button.disabled = true;
    try {
      await api.patch(apiSessionPath(session.id), {
        title: fields.title.input.value.trim(),
        description: fields.description.input.value,
        format: format.value,
        capacity: { guest: Number(fields.capacity.input.value) },
      });
      await reload(page, { flash: 'Saved. Registered participants see the new details.' });
    } catch (err) {
      showApiError(err, { fields, errorEl });
      button.disabled = false;
    }
  });
  return h(
    'section',
    { class: 'card session-section' },
    h('details', { class: 'event-session-edit', id: 'event-session-edit' }, h('summary', { class: 'card-title' }, icon(ICONS.edit, 'icon icon-sm'), ' Edit this session'), form),
  );
}

/** Event sessions: one click registers as a participant (no role, no form). */
function oneClickPanel(page, errorEl, statusEl, flash) {
  const { session } = page.data;
  const open = freeOf(session, 'guest');
  const button = h('button', { type: 'button', class: 'btn btn-primary btn-block', id: 'register-one-click' }, open > 0 ? 'Register' : 'Join the waitlist');
  button.addEventListener('click', async () => {
    button.disabled = true;
    showFormError(errorEl, '');
    try {
      const res = await api.post(apiSessionPath(session.id, '/registrations'), {});
      const message =
        res && res.waitlisted
          ? `You’re on the waitlist (position ${res.position}). We’ll email you when a spot opens.`
          : 'You’re registered. We’ve emailed you the details and a calendar invite.';
      statusEl.textContent = message;
      await reload(page, { flash: message, errorEl });
    } catch (err) {
      showFormError(errorEl, err.message);
      button.disabled = false;
    }
  });
  return panelShell(
    'Register',
    errorEl,
    statusEl,
    flash,
    h('p', { class: 'muted' }, open > 0 ? `${open} of ${capacityOf(session, 'guest')} spots open.` : 'Every spot is taken; you can join the waitlist.'),
    button,
  );
}

function registerForm(page, user, errorEl, statusEl, flash) {
  const { session, can } = page.data;
  const rules = (can && can.register) || {};
  const roles = roleChooser(page);
  const fields = {
    role: roles,
    name: field({
      name: 'name',
      label: 'Your name as shown to others',
      autocomplete: 'name',
      required: true,
      value: user.name || '',
      maxlength: 80,
      hint: 'Shown in the participant list. It also updates your profile.',
    }),
    talk_title: field({ name: 'talk_title', label: 'Talk title', optional: true, maxlength: 120 }),
    talk_description: field({
      name: 'talk_description',
      label: 'What is your talk about?',
      optional: true,
      multiline: true,
      rows: 3,
      maxlength: 2000,
    }),
    topics: field({
      name: 'topics',
      label: 'Topics of interest or questions',
      optional: true,
      multiline: true,
      rows: 3,
      maxlength: 2000,
      hint: 'Helps the presenters and the host prepare.',
    }),
  };

  const presenterFields = h(
    'div',
    { class: 'role-fields', id: 'presenter-fields', hidden: true },
    fields.talk_title.el,
    fields.talk_description.el,
  );
  const guestFields = h('div', { class: 'role-fields', id: 'guest-fields', hidden: true }, fields.topics.el);
  const waitNote = h('p', { class: 'wait-note', id: 'waitlist-note', hidden: true });
  const button = submitButton('Register', 'btn-block');
  button.id = 'register-submit';

  function sync() {
    const choice = roles.selected();
    const role = choice ? choice.value : null;
    presenterFields.hidden = role !== 'presenter';
    guestFields.hidden = role !== 'guest';
    const full = role && (Boolean(rules[role] && rules[role].full) || freeOf(session, role) === 0);
    waitNote.hidden = !full;
    waitNote.textContent = full
      ? `The ${roleLabel(role).toLowerCase()} spots are taken. Registering puts you on the waitlist, and we’ll email you when a spot opens.`
      : '';
  }
  for (const i of roles.inputs) i.addEventListener('change', sync);
  sync();

  const form = h(
    'form',
    { id: 'register-form', class: 'form', novalidate: true, 'aria-labelledby': 'registration-title' },
    roles.el,
    fields.name.el,
    presenterFields,
    guestFields,
    waitNote,
    button,
  );

  if (!roles.inputs.length) {
    return panelShell('Register', errorEl, statusEl, flash, h('p', { class: 'muted' }, 'This session has no roles to register for.'));
  }
  if (!roles.inputs.some((i) => !i.disabled)) {
    button.disabled = true;
  }

  handleSubmit(form, {
    fields,
    errorEl,
    statusEl,
    button,
    busyLabel: 'Registering…',
    validate() {
      const problems = [];
      if (!roles.selected()) problems.push({ field: 'role', message: 'Choose a role.' });
      if (!fields.name.input.value.trim()) {
        problems.push({ field: 'name', message: 'Enter your name. It’s shown to the other participants.' });
      }
      return problems;
    },
    async onSubmit() {
      const role = roles.selected().value;
      const name = fields.name.input.value.trim();
      const body = { role, name };
      if (role === 'presenter') {
        const title = fields.talk_title.input.value.trim();
        const description = fields.talk_description.input.value.trim();
        if (title) body.talk_title = title;
        if (description) body.talk_description = description;
      }
      if (role === 'guest') {
        const topics = fields.topics.input.value.trim();
        if (topics) body.topics = topics;
      }
      const res = await api.post(apiSessionPath(session.id, '/registrations'), body);
      if (name !== user.name) loadMe().catch(() => {});
      const message =
        res && res.waitlisted
          ? `You’re on the waitlist (position ${res.position}). We’ll email you when a spot opens.`
          : `You’re registered as ${roleLabel(role)}. We’ve emailed you the details.`;
      statusEl.textContent = message;
      await reload(page, { flash: message, errorEl });
    },
  });

  return panelShell('Register', errorEl, statusEl, flash, form);
}
