// The video background picker (#background-picker) with a live preview
// (#background-preview): in the device settings and in the request to join
// the stage, so a speaker sees the result before going on stage.
//
// The choices (ids, labels, kinds) are the server's (`backgrounds` in
// /api/config); the member's choice is stored by the server (PATCH /api/me
// {background}) so it follows them to every device; the page applies it with
// the room's BackgroundEffect (web/media/background.js).
//
//   const picker = backgroundPicker(room);   // {el, close()}
//   applyMyBackground(effect);               // from the signed-in member

import { api } from '../api.js';
import { h } from '../dom.js';
import { getState, setMe } from '../state.js';
import { BackgroundEffect, drawThumbnail } from '../media/background.js';
import { modal, showError } from './util.js';

const CSS_HREF = '/live/background.css';

function ensureCss() {
  if (document.querySelector('link[data-background-css]')) return;
  document.head.append(h('link', { rel: 'stylesheet', href: CSS_HREF, dataset: { backgroundCss: '1' } }));
}

// The live room page imports this module: its styles come with it.
if (typeof document !== 'undefined') ensureCss();

/** The server's background choices ({id, label, kind}), in order. */
export function backgroundChoices() {
  const list = getState().config && getState().config.backgrounds;
  return Array.isArray(list) ? list : [];
}

function choiceFor(id) {
  return backgroundChoices().find((c) => c.id === id) || { id: 'none', label: 'None', kind: 'none' };
}

/**
 * The picker in a dialog of its own (#background-dialog), for speakers in the
 * lobby before they join on stage: a BackgroundEffect just for the preview.
 */
export function openBackgroundDialog() {
  const effect = new BackgroundEffect();
  applyMyBackground(effect);
  const picker = backgroundPicker({ media: { background: effect } });
  const done = h('button', { type: 'button', class: 'btn btn-primary', id: 'background-done' }, 'Done');
  const { close } = modal({
    id: 'background-dialog',
    title: 'Your background on stage',
    wide: true,
    body: [picker.el],
    actions: [done],
    onClose: () => {
      picker.close();
      effect.close();
    },
  });
  done.addEventListener('click', close);
}

/** Applies the signed-in member's stored choice to `effect`. */
export function applyMyBackground(effect) {
  const me = getState().me;
  effect.setMode(choiceFor((me && me.background) || 'none'));
}

/**
 * The picker with its preview. `room.media` is the room's LiveMedia (its
 * `background` effect and camera); without a camera on, the preview opens
 * one of its own until close(). Before joining (no LiveMedia yet) pass
 * `{media: {background: effect}}`.
 */
export function backgroundPicker(room) {
  const media = room.media;
  const effect = media.background;
  const choices = backgroundChoices();
  const error = h('p', { class: 'form-error', id: 'background-error', role: 'alert', hidden: true });
  const note = h('p', { class: 'muted small', id: 'background-note' });
  const canvas = effect.view('lr-bg-preview-canvas');
  const preview = h('div', { class: 'lr-bg-preview', id: 'background-preview' }, canvas);
  let current = (getState().me && getState().me.background) || 'none';
  const buttons = choices.map((choice) => {
    const thumb = h('canvas', { class: 'lr-bg-thumb', width: 96, height: 54, 'aria-hidden': 'true' });
    drawThumbnail(thumb, choice).catch(() => {});
    const b = h(
      'button',
      {
        type: 'button',
        class: 'lr-bg-choice',
        id: `background-${choice.id}`,
        role: 'radio',
        'aria-checked': String(choice.id === current),
        dataset: { background: choice.id },
        onclick: () => choose(choice),
      },
      thumb,
      h('span', { class: 'lr-bg-label' }, choice.label),
    );
    return b;
  });
  const grid = h('div', { class: 'lr-bg-grid', role: 'radiogroup', 'aria-label': 'Background' }, buttons);
  const el = h(
    'section',
    { class: 'lr-bg', id: 'background-picker', 'aria-labelledby': 'background-heading' },
    h('h3', { class: 'label', id: 'background-heading' }, 'Background'),
    preview,
    grid,
    note,
    error,
  );

  function mark() {
    for (const b of buttons) b.setAttribute('aria-checked', String(b.dataset.background === current));
    note.textContent = effect.problem || (current === 'none' ? 'Your camera as it is.' : 'Applied on your device before your video is sent.');
  }

  async function choose(choice) {
    if (choice.id === current) return;
    const before = current;
    current = choice.id;
    effect.setMode(choice);
    mark();
    showError(error, '');
    try {
      const body = await api.patch('/api/me', { background: choice.id });
      if (body && body.user) setMe(body.user);
    } catch (err) {
      current = before;
      effect.setMode(choiceFor(before));
      mark();
      showError(error, `Couldn’t save your background: ${err.message}`);
    }
  }

  // The preview needs camera frames: the room's camera, or one of our own.
  let ownStream = null;
  let stopFeed = null;
  let closed = false;
  (async () => {
    let track = media.cam && media.cam.track;
    if (!track) {
      try {
        const id = media.chosen && media.chosen.camera;
        ownStream = await navigator.mediaDevices.getUserMedia({
          video: { width: { ideal: 640 }, height: { ideal: 360 }, ...(id ? { deviceId: { exact: id } } : {}) },
        });
      } catch (err) {
        preview.classList.add('is-empty');
        note.textContent = `No camera preview: ${err.message || err}`;
        return;
      }
      if (closed) {
        for (const t of ownStream.getTracks()) t.stop();
        return;
      }
      track = ownStream.getVideoTracks()[0];
    }
    stopFeed = effect.preview(track);
    preview.dataset.state = 'running';
  })();

  const onChange = () => mark();
  effect.addEventListener('change', onChange);
  mark();

  return {
    el,
    close() {
      closed = true;
      effect.removeEventListener('change', onChange);
      effect.views.delete(canvas);
      if (stopFeed) stopFeed();
      if (ownStream) for (const t of ownStream.getTracks()) t.stop();
    },
  };
}
