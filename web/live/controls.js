// The controls bar under the stage, by situation:
//   on stage      #toggle-mic, #toggle-camera (aria-pressed = on), #device-settings,
//                 #share-screen (aria-pressed), #leave-stage ("Deactivate Mic & Camera")
//   speaker off   #take-stage ("Back on stage")
//   audience      #request-stage → #request-dialog (#request-camera, #request-mic,
//                 #send-request), #raise-hand; while waiting #request-status
//                 (queue position) and #withdraw-request; in a browser that
//                 cannot send camera and mic (media.js canPublishHere) neither
//                 is offered: #stage-unsupported says why
//   hosts         #breakouts (while no rooms are open)
//   everyone      #leave-room
// plus the device settings dialog (#devices-dialog: #camera-select, #mic-select,
// and the background picker #background-picker with its preview, which the
// request dialog shows too, so a background is chosen and seen before going
// on stage; background-ui.js).

import { h } from '../dom.js';
import { backgroundChoices, backgroundPicker } from './background-ui.js';
import { canPublishHere } from './media.js';
import { ic, modal, redrawIf, showError, switchControl } from './util.js';
import { openMaterials } from './slides.js';
import { openVideoDialog } from './video.js';

function ctl({ id, label, iconName, onclick, pressed, off, cls, title, disabled }) {
  return h(
    'button',
    {
      type: 'button',
      id,
      class: ['lr-ctl', off && 'is-off', cls],
      'aria-pressed': pressed == null ? null : String(Boolean(pressed)),
      title: title || label,
      disabled: Boolean(disabled),
      onclick,
    },
    ic(iconName, 'icon'),
    h('span', { class: 'lr-ctl-label' }, label),
  );
}

export function createControls(room) {
  const el = h('div', { class: 'lr-controls', id: 'controls', role: 'group', 'aria-label': 'Room controls' });

  function update() {
    const live = room.live;
    if (!live) return;
    const me = live.me;
    const media = room.media;
    const sharing = Boolean(media && media.screen);
    const sig = JSON.stringify([
      me.on_stage, me.camera, me.mic, me.mic_locked, me.request, me.is_speaker, me.stage_locked, me.can_take_stage, me.room, Boolean(me.countdown_ends_at),
      sharing, Boolean(media && media.canShare()), Boolean(room.mediaInfo), (live.breakouts || []).length, me.can_present, me.can_show_video,
    ]);
    redrawIf(el, sig, () => build(live, me, media, sharing));
  }

  function build(live, me, media, sharing) {
    const main = [];
    let status;
    if (me.on_stage) {
      status = me.room ? 'Breakout room · mic & camera on' : 'You’re on stage';
      main.push(
        ctl({
          id: 'toggle-mic',
          label: me.mic ? 'Mute' : me.mic_locked ? 'Muted by host' : 'Unmute',
          title: me.mic ? 'Turn your microphone off' : me.mic_locked ? 'A host muted you; a host can let you speak again' : 'Turn your microphone on',
          iconName: me.mic ? 'mic' : 'micOff',
          pressed: me.mic,
          off: !me.mic,
          disabled: !me.mic && me.mic_locked,
          onclick: () => room.setDevices({ camera: me.camera, mic: !me.mic }),
        }),
        ctl({
          id: 'toggle-camera',
          label: me.camera ? 'Stop video' : 'Start video',
          title: me.camera ? 'Turn your camera off' : 'Turn your camera on',
          iconName: me.camera ? 'camera' : 'cameraOff',
          pressed: me.camera,
          off: !me.camera,
          onclick: () => room.setDevices({ camera: !me.camera, mic: me.mic }),
        }),
      );
      if (media) {
        main.push(
          ctl({ id: 'device-settings', label: 'Devices', title: 'Choose camera, microphone and background', iconName: 'sliders', onclick: () => openDevices(room) }),
          ctl({
            id: 'share-screen',
            label: sharing ? 'Stop sharing' : 'Share screen',
            iconName: 'screen',
            pressed: sharing,
            cls: sharing && 'is-active',
            disabled: !sharing && !media.canShare(),
            title: sharing ? 'Stop sharing your screen' : media.canShare() ? 'Share your screen' : 'Screen sharing needs the media connection',
            onclick: () => room.toggleScreen(),
          }),
        );
      }
      if (!me.room) {
        main.push(
          h(
            'button',
            { type: 'button', id: 'leave-stage', class: 'btn btn-secondary lr-leave-stage', onclick: () => room.leaveStage() },
            h('span', { 'aria-hidden': 'true' }, '✌️'),
            'Deactivate Mic & Camera',
          ),
        );
      }
    } else if (me.countdown_ends_at) {
      status = 'Approved — get ready';
    } else if (room.mediaInfo && !canPublishHere() && !me.request) {
      // The stage means sending camera and mic; this browser cannot.
      status = 'You’re in the audience';
      main.push(
        h(
          'p',
          { class: 'lr-request-status', id: 'stage-unsupported', role: 'status' },
          ic('info'),
          h('span', null, 'This browser can’t send your camera and microphone, so it can’t join the stage. Use a recent Firefox, Chrome or Edge to speak.'),
        ),
      );
    } else if (me.is_speaker && !me.stage_locked) {
      status = 'You’re off stage';
      main.push(
        me.can_take_stage
          ? h('button', { type: 'button', id: 'take-stage', class: 'btn btn-primary', onclick: () => room.takeStage() }, ic('stage'), 'Back on stage')
          : h('p', { class: 'lr-request-status', id: 'stage-full-note', role: 'status' }, 'All speaker places on stage are taken.'),
      );
    } else if (me.request) {
      const r = me.request;
      status = r.kind === 'hand' ? 'Your hand is raised' : 'Request sent';
      main.push(
        h(
          'p',
          { class: 'lr-request-status', id: 'request-status', role: 'status', dataset: { position: r.position } },
          r.kind === 'hand' ? ic('hand') : ic('camera'),
          h('span', null, r.position === 1 ? 'You’re next in the queue' : `You’re #${r.position} in the queue`),
        ),
        h(
          'button',
          { type: 'button', id: 'withdraw-request', class: 'btn btn-secondary', onclick: () => room.withdrawRequest() },
          r.kind === 'hand' ? 'Lower hand' : 'Withdraw request',
        ),
      );
    } else {
      status = 'You’re in the audience';
      main.push(
        h(
          'button',
          { type: 'button', id: 'request-stage', class: 'btn btn-primary', onclick: () => openRequest(room) },
          ic('camera'),
          'Request to join with Mic & Camera',
        ),
        h('button', { type: 'button', id: 'raise-hand', class: 'btn btn-secondary', onclick: () => room.raiseHand() }, ic('hand'), 'Raise hand'),
      );
    }

    const end = [];
    if (me.can_present) {
      end.push(ctl({ id: 'presentations', label: 'Present', title: 'Show a PDF presentation on stage', iconName: 'presentation', onclick: () => openMaterials(room) }));
    }
    if (me.can_show_video) {
      // Video on stage: a YouTube link or an uploaded file (video.js).
      end.push(ctl({ id: 'show-video', label: 'Video', title: 'Show a video on stage', iconName: 'film', onclick: () => openVideoDialog(room) }));
    }
    if (me.can_moderate && !(live.breakouts || []).length) {
      end.push(ctl({ id: 'breakouts', label: 'Breakout rooms', iconName: 'grid', onclick: () => room.openBreakouts() }));
    }
    end.push(ctl({ id: 'leave-room', label: 'Leave', title: 'Leave the room', iconName: 'leave', cls: 'lr-ctl-leave', onclick: () => room.leaveRoom() }));

    return [
      h('p', { class: 'lr-controls-status', id: 'my-status' }, status),
      h('div', { class: 'lr-controls-main' }, main),
      h('div', { class: 'lr-controls-end' }, end),
    ];
  }

  return { el, update };
}

/* ------------------------------------------------------- Request dialog */

function openRequest(room) {
  const camera = switchControl({ id: 'request-camera', label: 'Camera', checked: true, iconName: 'camera' });
  const mic = switchControl({ id: 'request-mic', label: 'Microphone', checked: true, iconName: 'mic' });
  const error = h('p', { class: 'form-error', id: 'request-error', role: 'alert', hidden: true });
  const send = h('button', { type: 'button', class: 'btn btn-primary', id: 'send-request' }, 'Send request');
  const cancel = h('button', { type: 'button', class: 'btn btn-secondary', id: 'cancel-request' }, 'Cancel');
  const picker = room.media && backgroundChoices().length ? backgroundPicker(room) : null;
  const { dialog, close } = modal({
    id: 'request-dialog',
    title: 'Request to join with Mic & Camera',
    wide: Boolean(picker),
    body: [
      h('p', { class: 'muted' }, 'A host reviews your request. Once approved you get 5 seconds to get ready, then you appear on stage.'),
      h('div', { class: 'lr-switches' }, camera.el, mic.el),
      picker && picker.el,
      error,
    ],
    actions: [cancel, send],
    onClose: () => picker && picker.close(),
  });
  cancel.addEventListener('click', close);
  send.addEventListener('click', async () => {
    send.disabled = true;
    showError(error, '');
    try {
      await room.requestStage({ camera: camera.input.checked, mic: mic.input.checked });
      close();
    } catch (err) {
      showError(error, err.message);
      send.disabled = false;
    }
  });
  camera.input.focus();
  return dialog;
}

/* ------------------------------------------------------ Devices dialog */

async function openDevices(room) {
  const media = room.media;
  if (!media) return;
  const camSelect = h('select', { id: 'camera-select', class: 'input select' });
  const micSelect = h('select', { id: 'mic-select', class: 'input select' });
  const note = h('p', { class: 'muted small' }, 'Loading devices…');
  const done = h('button', { type: 'button', class: 'btn btn-primary', id: 'devices-done' }, 'Done');
  const picker = backgroundChoices().length ? backgroundPicker(room) : null;
  const { close } = modal({
    id: 'devices-dialog',
    title: 'Camera, microphone and background',
    wide: Boolean(picker),
    body: [
      h('div', { class: 'field' }, h('label', { class: 'label', for: 'camera-select' }, 'Camera'), camSelect),
      h('div', { class: 'field' }, h('label', { class: 'label', for: 'mic-select' }, 'Microphone'), micSelect),
      note,
      picker && picker.el,
    ],
    actions: [done],
    onClose: () => picker && picker.close(),
  });
  done.addEventListener('click', close);
  let list;
  try {
    list = await media.listDevices();
  } catch (err) {
    note.textContent = `Couldn’t list your devices: ${err.message}`;
    return;
  }
  const fill = (select, items, current, what) => {
    select.replaceChildren(...items.map((d) => h('option', { value: d.id, selected: d.id === current }, d.label)));
    if (!items.length) select.append(h('option', { value: '' }, `No ${what} found`));
    select.disabled = !items.length;
  };
  fill(camSelect, list.cameras, media.currentDevice('camera'), 'camera');
  fill(micSelect, list.mics, media.currentDevice('mic'), 'microphone');
  note.textContent = 'Changes apply at once.';
  camSelect.addEventListener('change', () => media.setDevice('camera', camSelect.value));
  micSelect.addEventListener('change', () => media.setDevice('mic', micSelect.value));
  camSelect.focus();
}
