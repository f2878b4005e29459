// Chat tab: my room's messages (#chat-list li[data-message-id]: name, time,
// text) and #chat-form (textarea name=text, #chat-send; Enter sends,
// Shift+Enter is a new line). `slow_down` and other refusals show in
// #chat-error. The list follows new messages while it is scrolled to the end.
// History comes with every `state` (my room's last 200); single messages come
// as `chat` events in between; both are merged by id.

import { h } from '../dom.js';
import { formatTime } from '../sessions-ui.js';
import { ic, showError } from './util.js';

export function createChat(room) {
  let messages = []; // sorted by id, my room only
  let myRoom = 0;
  let seen = 0; // highest id the user has seen
  let fresh = true; // the next state is the first for this room: its history counts as read
  const rendered = new Map(); // id → li

  const scroller = h('div', { class: 'lr-scroll lr-chat-scroll' });
  const list = h('ol', { class: 'lr-chat-list', id: 'chat-list', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const empty = h('p', { class: 'lr-empty-line lr-empty-block', id: 'chat-empty' }, ic('chat', 'icon icon-lg'), h('span', null, 'No messages yet. Say hello!'));
  const roomNote = h('p', { class: 'lr-chat-room', id: 'chat-room' });
  scroller.append(empty, list);

  const text = h('textarea', {
    name: 'text',
    id: 'chat-text',
    class: 'input lr-compose-input lr-chat-input',
    rows: 1,
    placeholder: 'Write a message…',
    autocomplete: 'off',
  });
  const send = h('button', { type: 'submit', class: 'btn btn-primary lr-send', id: 'chat-send', 'aria-label': 'Send message', title: 'Send' }, ic('send', 'icon icon-sm'));
  const error = h('p', { class: 'lr-inline-error', id: 'chat-error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'lr-compose lr-chat-form', id: 'chat-form', novalidate: true },
    h('label', { class: 'visually-hidden', for: 'chat-text' }, 'Message'),
    h('div', { class: 'lr-chat-row' }, text, send),
    error,
  );
  text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  text.addEventListener('input', () => showError(error, ''));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = text.value.trim();
    if (send.disabled) return;
    if (!value) {
      text.focus();
      return;
    }
    send.disabled = true;
    showError(error, '');
    try {
      await room.call('/chat', { text: value });
      text.value = '';
      stickToEnd(true);
    } catch (err) {
      showError(error, err.code === 'slow_down' ? `Slow down: ${err.message}` : err.message);
    } finally {
      send.disabled = false;
      text.focus({ preventScroll: true });
    }
  });

  const el = h('div', { class: 'lr-panel-body lr-chat' }, roomNote, scroller, form);

  function atEnd() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  }

  function stickToEnd(force) {
    if (force || atEnd()) scroller.scrollTop = scroller.scrollHeight;
  }

  function item(m) {
    const mine = m.user_id === (room.live && room.live.me.user_id);
    return h(
      'li',
      { class: ['lr-msg', mine && 'is-mine'], dataset: { messageId: m.id, userId: m.user_id } },
      h('p', { class: 'lr-msg-head' }, h('span', { class: 'lr-msg-name' }, m.name), h('time', { class: 'lr-msg-time', datetime: m.at }, formatTime(m.at))),
      h('p', { class: 'lr-msg-text' }, m.text),
    );
  }

  function render() {
    const follow = atEnd();
    const ids = new Set(messages.map((m) => m.id));
    for (const [id, li] of rendered) {
      if (!ids.has(id)) {
        li.remove();
        rendered.delete(id);
      }
    }
    let prev = null;
    for (const m of messages) {
      let li = rendered.get(m.id);
      if (!li) {
        li = item(m);
        rendered.set(m.id, li);
        if (prev) prev.after(li);
        else list.prepend(li);
      }
      prev = li;
    }
    empty.hidden = messages.length > 0;
    if (follow) stickToEnd(true);
  }

  function merge(list_) {
    const byId = new Map(messages.map((m) => [m.id, m]));
    for (const m of list_) byId.set(m.id, m);
    messages = [...byId.values()].filter((m) => m.room === myRoom).sort((a, b) => a.id - b.id);
  }

  function update(live) {
    const me = live.me;
    const breakout = me.room ? (live.breakouts || []).find((b) => b.id === me.room) : null;
    roomNote.replaceChildren(
      ic(breakout ? 'grid' : 'users', 'icon icon-xs'),
      breakout ? `Only ${breakout.name} sees these messages` : 'Messages go to everyone in the main room',
    );
    text.maxLength = live.limits.chat_max;
    if (me.chat_room !== myRoom) {
      myRoom = me.chat_room;
      messages = [];
      fresh = true;
    }
    // The state's history is authoritative; keep newer messages from events.
    const history = live.chat || [];
    const newest = history.length ? history[history.length - 1].id : 0;
    const later = messages.filter((m) => m.id > newest);
    messages = [];
    merge([...history, ...later]);
    if (fresh) {
      fresh = false;
      seen = messages.length ? messages[messages.length - 1].id : 0;
    }
    render();
  }

  return {
    el,
    update,
    add(m) {
      if (m.room !== myRoom) return;
      merge([m]);
      render();
      if (room.sidebarTab() === 'chat') seen = Math.max(seen, m.id);
    },
    unread() {
      const me = room.live && room.live.me.user_id;
      return messages.filter((m) => m.id > seen && m.user_id !== me).length;
    },
    shown() {
      if (messages.length) seen = messages[messages.length - 1].id;
      requestAnimationFrame(() => stickToEnd(true));
    },
  };
}
