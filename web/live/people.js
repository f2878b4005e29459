// People tab: for hosts the stage queue first (#stage-queue, in order, with
// the time waited, [data-action=approve] / [data-action=decline]) and who is
// counting down (#stage-countdowns); then everyone in groups Hosts, Speakers,
// Audience (#people-list li.lr-person[data-user-id]) with on-stage, mic,
// camera and raised-hand state, and for hosts per person
// [data-action=mute] / [data-action=off-stage] / [data-action=remove].

import { h, initials } from '../dom.js';
import { roleBadge } from '../sessions-ui.js';
import { clockText, ic, redrawIf, serverNow, ms, waitedText } from './util.js';

function requestLabel(q) {
  if (q.kind === 'hand') return [ic('hand', 'icon icon-xs'), 'Raised hand'];
  if (q.camera && q.mic) return [ic('camera', 'icon icon-xs'), 'Camera & mic'];
  if (q.camera) return [ic('camera', 'icon icon-xs'), 'Camera only'];
  if (q.mic) return [ic('mic', 'icon icon-xs'), 'Mic only'];
  return [ic('users', 'icon icon-xs'), 'Without camera and mic'];
}

/**
 * A device as the media engine sees it: on only while its frames arrive
 * (`sending`, from the server); switched on with nothing arriving shows so.
 */
function deviceState(wanted, flowing, iconName, label, what) {
  const state = flowing ? 'on' : wanted ? 'stalled' : 'off';
  const text = { on: `${label} on`, stalled: `${label} on, but no ${what} arrives`, off: `${label} off` }[state];
  return h(
    'span',
    { class: ['lr-state-icon', state !== 'on' && 'is-off', state === 'stalled' && 'is-stalled'], title: text, dataset: { device: iconName, state } },
    ic(state === 'on' ? iconName : `${iconName}Off`, 'icon icon-xs'),
    h('span', { class: 'visually-hidden' }, text),
  );
}

export function createPeople(room) {
  const queueBox = h('section', { class: 'lr-section lr-queue-section', id: 'stage-queue-section', 'aria-labelledby': 'stage-queue-title', hidden: true });
  const list = h('div', { class: 'lr-people', id: 'people-list' });
  const el = h('div', { class: 'lr-panel-body' }, queueBox, list);

  function update(live) {
    const me = live.me;
    if (me.can_moderate) {
      queueBox.hidden = false;
      // Redrawn only when the queue itself changes: who waits, for what, and
      // the countdowns. The waiting times count on in the ticker (from each
      // item's first drawing), so a state that only moved the clocks keeps the
      // buttons in place under the host's pointer.
      const sig = JSON.stringify([
        (live.queue || []).map((q) => [q.user_id, q.kind, q.name, q.camera, q.mic]),
        live.countdowns,
        live.people.length,
      ]);
      redrawIf(queueBox, sig, () => buildQueue(live));
    } else {
      queueBox.hidden = true;
    }
    const sig = JSON.stringify([live.people, me.user_id, me.can_moderate, me.room, live.breakouts, live.audience_count]);
    redrawIf(list, sig, () => buildPeople(live));
  }

  function buildQueue(live) {
    const queue = live.queue || [];
    const names = new Map((live.people || []).map((p) => [p.user_id, p.name]));
    const counting = (live.countdowns || []).filter((c) => names.has(c.user_id));
    const items = queue.map((q, i) => {
      const since = room.receivedAt - (q.waited_seconds || 0) * 1000;
      return h(
        'li',
        { class: 'lr-queue-item', dataset: { userId: q.user_id, kind: q.kind } },
        h('span', { class: 'lr-queue-pos', 'aria-label': `Position ${i + 1}` }, String(i + 1)),
        h(
          'div',
          { class: 'lr-queue-text' },
          h('span', { class: 'lr-person-name' }, q.name),
          h(
            'span',
            { class: 'lr-queue-meta' },
            h('span', { class: 'lr-queue-kind' }, requestLabel(q)),
            ' · ',
            h('span', { class: 'lr-waited', dataset: { since: String(since) } }, waitedText((serverNow() - since) / 1000)),
          ),
        ),
        h(
          'div',
          { class: 'lr-queue-actions' },
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-primary btn-sm',
              dataset: { action: 'approve', key: `approve-${q.user_id}` },
              'aria-label': `Approve ${q.name}`,
              onclick: (e) => room.act(e.currentTarget, '/stage/approve', { user_id: q.user_id }),
            },
            'Approve',
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-secondary btn-sm',
              dataset: { action: 'decline', key: `decline-${q.user_id}` },
              'aria-label': `Decline ${q.name}`,
              onclick: (e) => room.act(e.currentTarget, '/stage/decline', { user_id: q.user_id }),
            },
            'Decline',
          ),
        ),
      );
    });
    return [
      h(
        'h3',
        { class: 'lr-section-title', id: 'stage-queue-title' },
        'Requests to join the stage',
        queue.length ? h('span', { class: 'lr-count-pill is-alert' }, String(queue.length)) : null,
      ),
      queue.length
        ? h('ol', { class: 'lr-queue', id: 'stage-queue' }, items)
        : h('ol', { class: 'lr-queue is-empty', id: 'stage-queue' }, h('li', { class: 'lr-empty-line' }, 'No requests right now. Audience members can ask to join with mic & camera or raise a hand.')),
      counting.length
        ? h(
            'ul',
            { class: 'lr-countdowns', id: 'stage-countdowns' },
            counting.map((c) =>
              h(
                'li',
                { dataset: { userId: c.user_id } },
                ic('clock', 'icon icon-xs'),
                `${names.get(c.user_id)} joins the stage in `,
                h('span', { class: 'lr-waited', dataset: { until: String(ms(c.ends_at)) } }, clockText(ms(c.ends_at) - serverNow())),
              ),
            ),
          )
        : null,
    ];
  }

  /** A camera picture for people on stage with the camera on, else initials. */
  function face(p, live) {
    const letters = h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' }, initials(p.name));
    if (!p.on_stage || !p.camera || !live.session) return letters;
    return h('img', {
      class: 'avatar avatar-sm lr-thumb',
      alt: '',
      src: `/api/sessions/${live.session.id}/live/thumbnail?user=${p.user_id}&t=${Math.floor(Date.now() / 10000)}`,
      onerror: (e) => e.currentTarget.replaceWith(letters),
    });
  }

  function personRow(p, live) {
    const me = live.me;
    const you = p.user_id === me.user_id;
    const room_ = p.room ? (live.breakouts || []).find((b) => b.id === p.room) : null;
    const badges = [
      you ? h('span', { class: 'badge badge-you' }, 'You') : null,
      p.is_host && p.role !== 'host' ? h('span', { class: 'badge badge-role role-host' }, 'Host') : null,
      p.role && p.role !== 'guest' ? roleBadge(p.role) : null,
      p.on_stage && !p.room ? h('span', { class: 'badge lr-badge-stage' }, 'On stage') : null,
      room_ ? h('span', { class: 'badge lr-badge-room' }, room_.name) : null,
      p.hand_raised ? h('span', { class: 'badge lr-badge-hand', title: 'Hand raised' }, ic('hand', 'icon icon-xs'), 'Hand raised') : null,
    ];
    const states = p.on_stage
      ? h(
          'span',
          { class: 'lr-person-states' },
          deviceState(p.mic, p.sending && p.sending.microphone, 'mic', 'Microphone', 'sound'),
          deviceState(p.camera, p.sending && p.sending.camera, 'camera', 'Camera', 'picture'),
        )
      : null;
    let actions = null;
    if (me.can_moderate && !you) {
      const btn = (action, label, iconName, onclick, danger) =>
        h(
          'button',
          {
            type: 'button',
            class: ['btn btn-sm lr-mod', danger ? 'btn-danger-ghost' : 'btn-ghost lr-mod-plain'],
            dataset: { action, key: `${action}-${p.user_id}` },
            title: `${label}: ${p.name}`,
            'aria-label': `${label}: ${p.name}`,
            onclick,
          },
          ic(iconName, 'icon icon-sm'),
          h('span', { class: 'lr-mod-label' }, label),
        );
      actions = h(
        'div',
        { class: 'lr-person-actions' },
        p.on_stage && p.mic ? btn('mute', 'Mute', 'micOff', (e) => room.act(e.currentTarget, '/moderate', { action: 'mute', user_id: p.user_id })) : null,
        p.on_stage && !p.room ? btn('off-stage', 'Move off stage', 'down', (e) => room.act(e.currentTarget, '/moderate', { action: 'off_stage', user_id: p.user_id })) : null,
        btn('remove', 'Remove', 'userMinus', () => room.removePerson(p), true),
      );
    }
    return h(
      'li',
      { class: ['lr-person', you && 'is-you', p.on_stage && 'is-on-stage', p.hand_raised && 'has-hand'], dataset: { userId: p.user_id, onStage: p.on_stage ? '1' : '0', room: p.room } },
      face(p, live),
      h('div', { class: 'lr-person-text' }, h('span', { class: 'lr-person-name' }, p.name), h('span', { class: 'lr-person-badges' }, badges)),
      states,
      actions,
    );
  }

  function buildPeople(live) {
    const people = live.people || [];
    const hosts = people.filter((p) => p.is_host);
    const speakers = people.filter((p) => !p.is_host && p.is_speaker);
    // Guests brought on stage get their own group; the audience lists
    // raised hands first, then by name.
    const guests = people.filter((p) => !p.is_host && !p.is_speaker);
    const guestsOnStage = guests.filter((p) => p.on_stage).sort((a, b) => a.name.localeCompare(b.name));
    const audience = guests
      .filter((p) => !p.on_stage)
      .sort((a, b) => Number(b.hand_raised) - Number(a.hand_raised) || a.name.localeCompare(b.name));
    const onStage = (live.stage || []).length;
    const group = (id, title, list, emptyText) =>
      h(
        'section',
        { class: 'lr-section', id, 'aria-labelledby': `${id}-title` },
        h('h3', { class: 'lr-section-title', id: `${id}-title` }, title, h('span', { class: 'lr-count-pill' }, String(list.length))),
        list.length ? h('ul', { class: 'lr-person-list' }, list.map((p) => personRow(p, live))) : h('p', { class: 'lr-empty-line' }, emptyText),
      );
    return [
      h('p', { class: 'lr-people-summary', id: 'people-summary' }, `${people.length} ${people.length === 1 ? 'person' : 'people'} here · ${onStage} on stage`),
      group('people-hosts', 'Hosts', hosts, 'No host is here yet.'),
      speakers.length ? group('people-speakers', 'Speakers', speakers, '') : null,
      guestsOnStage.length ? group('people-guests-on-stage', 'Guests on stage', guestsOnStage, '') : null,
      group('people-audience', 'Audience', audience, 'Nobody in the audience yet.'),
    ];
  }

  return {
    el,
    update,
    tick() {
      // data-since / data-until are refreshed by the room's ticker.
    },
  };
}
