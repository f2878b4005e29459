// Breakout rooms.
// Hosts: #breakouts opens #breakouts-dialog: number of rooms with
// #breakout-minus / #breakout-count / #breakout-plus (1–10), room names
// (input[name=room-name][data-room], ≤ 30 characters), "Assign automatically"
// (#assign-auto → POST /live/breakouts {auto: n}, or the same split with the
// names given) or manually (#assign-manual: select[data-user-id] per person in
// #breakout-assign, #breakout-search filters), #open-rooms, #breakouts-error.
// While rooms are open: #room-switcher with buttons [data-room] (0 = main
// room; POST /live/visit) and #close-rooms (DELETE /live/breakouts).
// Everyone else: #breakout-banner says which room they are in.

import { h, charCount } from '../dom.js';
import { ic, modal, redrawIf, showError } from './util.js';

export function openBreakoutsDialog(room) {
  const live = room.live;
  const MAX_ROOMS = live.limits.max_breakouts;
  const NAME_MAX = live.limits.breakout_name_max;
  const people = (live.people || []).filter((p) => !p.is_host);
  let count = Math.min(MAX_ROOMS, Math.max(1, Math.min(3, Math.ceil(people.length / 4) || 2)));
  const names = Array.from({ length: MAX_ROOMS }, (_, i) => `Room ${i + 1}`);
  // Manual assignment starts from the automatic split: person → room index (-1 = main room).
  const assigned = new Map(people.map((p, i) => [p.user_id, i % count]));

  const countOut = h('output', { class: 'lr-bo-count-value', id: 'breakout-count', 'aria-live': 'polite' }, String(count));
  const minus = h('button', { type: 'button', class: 'btn btn-secondary btn-icon lr-round', id: 'breakout-minus', 'aria-label': 'One room fewer' }, ic('minus'));
  const plus = h('button', { type: 'button', class: 'btn btn-primary btn-icon lr-round', id: 'breakout-plus', 'aria-label': 'One room more' }, ic('plus'));
  const namesList = h('ol', { class: 'lr-bo-names', id: 'breakout-names' });
  const auto = h('input', { type: 'radio', name: 'assign', value: 'auto', id: 'assign-auto', checked: true });
  const manual = h('input', { type: 'radio', name: 'assign', value: 'manual', id: 'assign-manual' });
  const search = h('input', { type: 'search', class: 'input input-sm', id: 'breakout-search', placeholder: 'Search participants here', 'aria-label': 'Search participants' });
  const assignList = h('ul', { class: 'lr-bo-assign-list' });
  const assignBox = h('div', { class: 'lr-bo-assign', id: 'breakout-assign', hidden: true }, search, assignList);
  const error = h('p', { class: 'form-error', id: 'breakouts-error', role: 'alert', hidden: true });
  const minutes = h(
    'select',
    { class: 'input input-sm lr-bo-minutes', id: 'breakout-minutes', 'aria-labelledby': 'breakout-minutes-label' },
    h('option', { value: '' }, 'No timer'),
    [5, 10, 15, 20, 30, 45, 60].map((m) => h('option', { value: String(m) }, `${m} minutes`)),
  );
  const open = h('button', { type: 'button', class: 'btn btn-primary', id: 'open-rooms' }, 'Open Rooms');
  const cancel = h('button', { type: 'button', class: 'btn btn-secondary', id: 'cancel-breakouts' }, 'Cancel');

  function drawNames() {
    const inputs = [];
    for (let i = 0; i < count; i += 1) {
      const id = `breakout-name-${i + 1}`;
      const input = h('input', {
        type: 'text',
        class: 'input input-sm',
        id,
        name: 'room-name',
        maxlength: NAME_MAX,
        value: names[i],
        dataset: { room: i + 1 },
        'aria-label': `Name of room ${i + 1}`,
      });
      input.addEventListener('input', () => {
        names[i] = input.value;
        drawAssign();
      });
      inputs.push(h('li', null, h('span', { class: 'lr-bo-num', 'aria-hidden': 'true' }, String(i + 1)), input));
    }
    namesList.replaceChildren(...inputs);
  }

  function drawAssign() {
    const q = search.value.trim().toLowerCase();
    const rows = people
      .filter((p) => !q || p.name.toLowerCase().includes(q))
      .map((p) => {
        const select = h(
          'select',
          { class: 'input input-sm select', dataset: { userId: p.user_id }, 'aria-label': `Room for ${p.name}` },
          h('option', { value: '-1' }, 'Main room'),
          Array.from({ length: count }, (_, i) => h('option', { value: String(i), selected: assigned.get(p.user_id) === i }, names[i] || `Room ${i + 1}`)),
        );
        if ((assigned.get(p.user_id) ?? -1) < 0) select.value = '-1';
        select.addEventListener('change', () => assigned.set(p.user_id, Number(select.value)));
        return h('li', { dataset: { userId: p.user_id } }, h('span', { class: 'lr-bo-person' }, p.name), select);
      });
    assignList.replaceChildren(...(rows.length ? rows : [h('li', { class: 'lr-empty-line' }, people.length ? 'Nobody matches.' : 'Nobody besides the hosts is here yet.')]));
  }

  function setCount(n) {
    count = Math.min(MAX_ROOMS, Math.max(1, n));
    countOut.textContent = String(count);
    minus.disabled = count <= 1;
    plus.disabled = count >= MAX_ROOMS;
    for (const [uid, i] of assigned) if (i >= count) assigned.set(uid, i % count);
    drawNames();
    drawAssign();
  }

  minus.addEventListener('click', () => setCount(count - 1));
  plus.addEventListener('click', () => setCount(count + 1));
  search.addEventListener('input', drawAssign);
  const syncMode = () => {
    assignBox.hidden = !manual.checked;
  };
  auto.addEventListener('change', syncMode);
  manual.addEventListener('change', syncMode);

  const { close } = modal({
    id: 'breakouts-dialog',
    title: 'Breakout rooms',
    wide: true,
    body: [
      h('p', { class: 'muted' }, 'Split the room into smaller groups. Everyone moved to a room can use mic & camera there; you can switch between rooms.'),
      h(
        'div',
        { class: 'lr-bo-count' },
        h('span', { class: 'label', id: 'breakout-count-label' }, 'Number of rooms'),
        h('div', { class: 'lr-stepper', role: 'group', 'aria-labelledby': 'breakout-count-label' }, minus, countOut, plus),
        h('span', { class: 'muted small' }, `Up to ${MAX_ROOMS}`),
      ),
      h('fieldset', { class: 'fieldset lr-bo-fieldset' }, h('legend', { class: 'label' }, 'Room names'), namesList, h('p', { class: 'field-hint' }, `At most ${NAME_MAX} characters.`)),
      h(
        'div',
        { class: 'lr-bo-count' },
        h('span', { class: 'label', id: 'breakout-minutes-label' }, 'Close rooms after'),
        minutes,
        h('span', { class: 'muted small' }, 'Everyone is warned a minute before.'),
      ),
      h(
        'fieldset',
        { class: 'fieldset lr-bo-fieldset' },
        h('legend', { class: 'label' }, 'Participants'),
        h(
          'div',
          { class: 'lr-bo-modes' },
          h('label', { class: 'lr-radio', for: 'assign-auto' }, auto, h('span', null, 'Assign automatically')),
          h('label', { class: 'lr-radio', for: 'assign-manual' }, manual, h('span', null, 'Assign manually')),
        ),
        assignBox,
      ),
      error,
    ],
    actions: [cancel, open],
  });

  cancel.addEventListener('click', close);
  open.addEventListener('click', async () => {
    showError(error, '');
    const clean = names.slice(0, count).map((n) => n.trim());
    const bad = clean.findIndex((n) => !n || charCount(n) > NAME_MAX);
    if (bad >= 0) {
      showError(error, `Give room ${bad + 1} a name of 1 to ${NAME_MAX} characters.`);
      const input = namesList.querySelector(`[data-room="${bad + 1}"]`);
      if (input) input.focus();
      return;
    }
    let body;
    const defaults = clean.every((n, i) => n === `Room ${i + 1}`);
    if (auto.checked && defaults) {
      body = { auto: count };
    } else if (auto.checked) {
      // The server's automatic split (everyone but hosts, round robin), with the names given.
      body = { rooms: clean.map((name, i) => ({ name, user_ids: people.filter((_, j) => j % count === i).map((p) => p.user_id) })) };
    } else {
      body = { rooms: clean.map((name, i) => ({ name, user_ids: people.filter((p) => assigned.get(p.user_id) === i).map((p) => p.user_id) })) };
    }
    if (minutes.value) body.minutes = Number(minutes.value);
    open.disabled = true;
    try {
      await room.call('/breakouts', body);
      close();
    } catch (err) {
      showError(error, err.message);
      open.disabled = false;
    }
  });

  setCount(count);
  plus.focus();
}

/** A one-line form that sends a message to every room (hosts). */
function broadcastForm(room) {
  const input = h('input', { type: 'text', class: 'input input-sm', id: 'broadcast-text', name: 'text', maxlength: '1000', placeholder: 'Message all rooms', 'aria-label': 'Message all rooms' });
  const send = h('button', { type: 'submit', class: 'btn btn-secondary btn-sm', id: 'broadcast-send' }, 'Send');
  const form = h('form', { class: 'lr-bo-broadcast', id: 'broadcast-form' }, input, send);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send.disabled = true;
    try {
      await room.call('/broadcast', { text });
      input.value = '';
    } catch (err) {
      input.setCustomValidity(err.message);
      input.reportValidity();
      input.setCustomValidity('');
    } finally {
      send.disabled = false;
    }
  });
  return form;
}

/** The bar above the stage while breakout rooms are open. */
export function createBreakoutBar(room) {
  const el = h('div', { class: 'lr-bo-bar-wrap' });
  function update() {
    const live = room.live;
    const me = live.me;
    const rooms = live.breakouts || [];
    const closeAt = live.breakouts_close_at ? new Date(live.breakouts_close_at) : null;
    const closesText = closeAt ? `Rooms close at ${closeAt.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}. ` : '';
    const sig = JSON.stringify([rooms, me.room, me.can_moderate, live.breakouts_close_at]);
    redrawIf(el, sig, () => {
      if (!rooms.length) return [];
      if (me.can_moderate) {
        const btn = (id, name, members) =>
          h(
            'button',
            {
              type: 'button',
              class: ['lr-room-btn', me.room === id && 'is-current'],
              dataset: { room: id, key: `room-${id}` },
              'aria-pressed': String(me.room === id),
              onclick: (e) => (me.room === id ? null : room.act(e.currentTarget, '/visit', { room: id })),
            },
            name,
            members == null ? null : h('span', { class: 'lr-count-pill' }, String(members)),
          );
        const mainCount = (live.people || []).filter((p) => p.room === 0).length;
        // Two short rows: the rooms to switch between (and Close), then the timer and a message to all.
        return h(
          'nav',
          { class: 'lr-bo-bar', id: 'room-switcher', 'aria-label': 'Switch room' },
          h(
            'div',
            { class: 'lr-bo-row' },
            h('span', { class: 'lr-bo-bar-label' }, ic('grid', 'icon icon-sm'), 'Rooms'),
            h('div', { class: 'lr-bo-rooms' }, btn(0, 'Main room', mainCount), rooms.map((r) => btn(r.id, r.name, r.members.length))),
            h('button', { type: 'button', class: 'btn btn-danger-outline btn-sm', id: 'close-rooms', onclick: (e) => room.act(e.currentTarget, '/breakouts', null, 'DELETE') }, 'Close rooms'),
          ),
          h(
            'div',
            { class: 'lr-bo-row' },
            closeAt ? h('span', { class: 'lr-bo-bar-note', id: 'breakout-closes' }, closesText.trim()) : null,
            h(
              'button',
              {
                type: 'button',
                class: 'btn btn-secondary btn-sm',
                id: 'breakout-extend',
                // Five more minutes from the current closing time (or from now).
                onclick: (e) => {
                  const left = closeAt ? Math.max(0, Math.ceil((closeAt.getTime() - Date.now()) / 60000)) : 0;
                  room.act(e.currentTarget, '/breakouts/timer', { minutes: Math.min(live.limits.breakout_minutes_max, left + 5) });
                },
              },
              '+5 min',
            ),
            broadcastForm(room),
          ),
        );
      }
      const mine = rooms.find((r) => r.id === me.room);
      return h(
        'div',
        { class: 'banner banner-info lr-banner', id: 'breakout-banner', role: 'status', dataset: { room: me.room } },
        ic('grid', 'icon icon-sm'),
        mine
          ? h('p', null, h('strong', null, `You’re in ${mine.name}. `), closesText, 'Your camera and microphone are on here, and the chat only goes to this room.')
          : h('p', null, h('strong', null, 'Breakout rooms are open. '), closesText, 'You’re in the main room.'),
      );
    });
  }
  return { el, update };
}
