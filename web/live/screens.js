// The live room's full-page screens other than the room itself:
//   waiting   countdown to the start (#start-countdown); hosts #start-session
//             (disabled before start_opens_at, #start-hint says from when)
//   lobby     the session is live: #join-room ("Join as a speaker" for speakers;
//             they also get #choose-background: pick and preview a background
//             before going on stage, background-ui.js)
//   joining   a spinner while POST /live/join runs (#joining)
//   ended     #session-ended, removed #removed, full #room-full, error #live-error
// Each has a link back to the session page (#back-to-session).

import { h } from '../dom.js';
import { formatTime, sessionPath, whenBlock } from '../sessions-ui.js';
import { ic, ms, serverNow, untilText } from './util.js';

function back(session) {
  return h('a', { href: sessionPath(session.id), class: 'btn btn-secondary', id: 'back-to-session' }, ic('arrowLeft'), 'Session details');
}

function shell({ id, eyebrow, title, body, actions, tone }) {
  return h(
    'div',
    { class: 'container narrow lr-screen' },
    h(
      'section',
      { class: ['card lr-screen-card', tone && `is-${tone}`], id, 'aria-labelledby': `${id}-title` },
      eyebrow ? h('p', { class: 'lr-eyebrow' }, eyebrow) : null,
      h('h1', { class: 'lr-screen-title', id: `${id}-title` }, title),
      body,
      actions && actions.length ? h('div', { class: 'actions lr-screen-actions' }, actions) : null,
    ),
  );
}

/** Waiting for the start. Returns {el, tick()}; tick() updates the countdown and the Start button. */
export function waitingScreen(live, { onStart }) {
  const s = live.session;
  const me = live.me;
  const startsAt = ms(s.starts_at);
  const opensAt = ms(live.start_opens_at);
  const countdown = h('p', { class: 'lr-big-countdown', id: 'start-countdown', 'aria-live': 'off' });
  const error = h('p', { class: 'form-error', id: 'start-error', role: 'alert', hidden: true });
  let start = null;
  let hint = null;
  if (me.is_host) {
    start = h('button', { type: 'button', class: 'btn btn-primary btn-lg', id: 'start-session' }, ic('stage', 'icon'), 'Start Session');
    hint = h('p', { class: 'muted small lr-start-hint', id: 'start-hint' });
    start.addEventListener('click', async () => {
      start.disabled = true;
      start.setAttribute('aria-busy', 'true');
      error.hidden = true;
      try {
        await onStart();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        start.disabled = false;
        start.removeAttribute('aria-busy');
      }
    });
  }
  const body = [
    whenBlock(s, { cls: 'when lr-when' }),
    h('div', { class: 'lr-countdown-block' }, h('p', { class: 'lr-countdown-label' }, 'Starts'), countdown),
    me.is_host
      ? h(
          'div',
          { class: 'lr-host-start' },
          h('p', { class: 'muted' }, 'You host this session. Start it to open the room; participants can join as soon as it’s live.'),
          start,
          hint,
          error,
        )
      : h(
          'p',
          { class: 'lr-waiting-note', role: 'status' },
          h('span', { class: 'lr-spinner', 'aria-hidden': 'true' }),
          'Waiting for the host to start the session. This page updates by itself.',
        ),
  ];
  const el = shell({ id: 'waiting-room', eyebrow: 'Waiting room', title: s.title, body, actions: [back(s)] });

  function tick() {
    const now = serverNow();
    const left = startsAt - now;
    countdown.textContent = left > 0 ? untilText(left) : 'any moment now';
    if (start && !start.hasAttribute('aria-busy')) {
      const open = me.can_start || now >= opensAt;
      start.disabled = !open;
      hint.textContent = open ? 'You can start the session now.' : `Available from ${formatTime(live.start_opens_at)}`;
    }
  }
  tick();
  return { el, tick };
}

/** The session is live and I'm not in the room yet. */
export function lobbyScreen(live, { onJoin, speaker, onBackground }) {
  const s = live.session;
  const people = live.people || [];
  const byId = new Map(people.map((p) => [p.user_id, p]));
  const onStage = (live.stage || []).map((id) => byId.get(id)).filter(Boolean);
  const error = h('p', { class: 'form-error', id: 'join-error', role: 'alert', hidden: true });
  const join = h(
    'button',
    { type: 'button', class: 'btn btn-primary btn-lg', id: 'join-room' },
    ic(speaker ? 'mic' : 'arrowRight', 'icon'),
    speaker ? 'Join as a speaker' : 'Join the session',
  );
  join.addEventListener('click', async () => {
    join.disabled = true;
    error.hidden = true;
    try {
      await onJoin();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      join.disabled = false;
    }
  });
  const body = [
    whenBlock(s, { cls: 'when lr-when' }),
    h(
      'p',
      { class: 'lr-lobby-live' },
      h('span', { class: 'lr-live-pill' }, h('span', { class: 'lr-live-dot', 'aria-hidden': 'true' }), 'Live'),
      people.length
        ? `${people.length} ${people.length === 1 ? 'person is' : 'people are'} in the room${onStage.length ? ` · on stage: ${onStage.map((p) => p.name).join(', ')}` : ''}`
        : 'The room is open.',
    ),
    h(
      'p',
      { class: 'muted' },
      speaker
        ? 'You join on stage with your camera and microphone on. Your browser will ask for access.'
        : 'You join the audience with camera and microphone off. You can ask to come on stage, raise your hand, chat and ask questions.',
    ),
    h(
      'div',
      { class: 'lr-join' },
      join,
      speaker && onBackground
        ? h('button', { type: 'button', class: 'btn btn-secondary btn-lg', id: 'choose-background', onclick: onBackground }, ic('camera', 'icon'), 'Background')
        : null,
    ),
    error,
  ];
  return shell({ id: 'lobby', eyebrow: 'Live now', title: s.title, body, actions: [back(s)] });
}

export function joiningScreen(title) {
  return shell({
    id: 'joining',
    eyebrow: 'Live room',
    title: title || 'Joining…',
    body: h('p', { class: 'lr-waiting-note', role: 'status' }, h('span', { class: 'lr-spinner', 'aria-hidden': 'true' }), 'Joining the room…'),
  });
}

export function endedScreen(session) {
  return shell({
    id: 'session-ended',
    eyebrow: session.title || 'Live room',
    title: 'This session has ended',
    body: h('p', { class: 'muted' }, 'Thanks for taking part! The room is closed.'),
    actions: [back(session), h('a', { href: '/', class: 'btn btn-primary' }, 'More sessions')],
  });
}

export function removedScreen(session) {
  return shell({
    id: 'removed',
    eyebrow: session.title || 'Live room',
    title: 'A host removed you from this session',
    body: h('p', { class: 'muted' }, 'You can’t rejoin this live session. If you think this was a mistake, contact the organisers.'),
    actions: [back(session)],
    tone: 'danger',
  });
}

export function fullScreen(session, { onRetry }) {
  return shell({
    id: 'room-full',
    eyebrow: session.title || 'Live room',
    title: 'The room is full',
    body: h('p', { class: 'muted' }, 'Everyone with a registration keeps their place, and free seats go to whoever comes first. Try again in a moment.'),
    actions: [back(session), h('button', { type: 'button', class: 'btn btn-primary', id: 'retry-join', onclick: onRetry }, ic('refresh'), 'Try again')],
  });
}

export function errorScreen(session, { title, message, onRetry, signIn }) {
  const actions = [];
  if (signIn) actions.push(h('a', { href: `/signin?next=${encodeURIComponent(window.location.pathname)}`, class: 'btn btn-primary', id: 'live-signin' }, 'Sign in'));
  if (onRetry) actions.push(h('button', { type: 'button', class: 'btn btn-primary', id: 'live-retry', onclick: onRetry }, 'Try again'));
  if (session && session.id) actions.push(back(session));
  else actions.push(h('a', { href: '/', class: 'btn btn-secondary' }, 'Go to home'));
  return shell({ id: 'live-error', title, body: h('p', { class: 'muted', role: 'alert' }, message), actions, tone: 'danger' });
}
