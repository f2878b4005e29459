// The stage: a grid of tiles for the people on stage in my room (name, mic
// and camera state, active speaker), screen shares in front, my own preview,
// the audience count, and the "get ready" countdown overlay.
//
// Tiles are kept across states (keyed by user id) so the video canvases the
// MediaClient draws on stay in place. Hooks: .lr-tile[data-user-id] with
// data-speaking, data-mic, data-camera, data-frames-decoded, what the decoder
// put out (data-decoded-width/-height; data-fps and data-layer: frames and
// highest temporal layer in the last second; data-layer-frames: frames
// decoded per temporal layer, "n0,n1,n2"; data-audio-frames-decoded); the video is
// canvas.tile-video (video.tile-video.tile-self for my own camera);
// screen shares are .lr-tile[data-screen-of]. #stage-countdown,
// #stage-countdown-number, #cancel-countdown, #audience-count, #queue-pill.

import { h, initials, replace } from '../dom.js';
import { roleLabel } from '../sessions-ui.js';
import { ic, serverNow } from './util.js';
import { createPresentationTile } from './slides.js';
import { createVideo } from './video.js';

export function createStage(room) {
  const tiles = new Map(); // key → {el, media, bar, kind, userId, videoEl}
  const grid = h('div', { class: 'lr-grid', id: 'stage-grid', role: 'list', 'aria-label': 'On stage' });
  const empty = h('div', { class: 'lr-stage-empty', id: 'stage-empty', hidden: true });
  const audience = h('span', { class: 'lr-chip', id: 'audience-count' });
  const queuePill = h(
    'button',
    { type: 'button', class: 'lr-chip lr-chip-action', id: 'queue-pill', hidden: true, onclick: () => room.showQueue() },
    ic('hand', 'icon icon-xs'),
    h('span', { class: 'lr-queue-pill-text' }),
  );
  const top = h(
    'div',
    { class: 'lr-stage-top' },
    h('span', { class: 'lr-live-pill' }, h('span', { class: 'lr-live-dot', 'aria-hidden': 'true' }), 'Live'),
    h('span', { class: 'lr-stage-room', id: 'stage-room-name', hidden: true }),
    h('span', { class: 'lr-stage-agenda', id: 'stage-agenda' }),
    h('span', { class: 'lr-stage-top-spacer' }),
    queuePill,
    audience,
  );
  const overlay = h('div', { class: 'lr-countdown', id: 'stage-countdown', hidden: true, role: 'dialog', 'aria-labelledby': 'stage-countdown-title' });
  const el = h('section', { class: 'lr-stage', id: 'stage', 'aria-label': 'Stage' }, top, grid, empty, overlay);

  let countdownEnd = null;
  let countdownPreview = null;
  const presentation = createPresentationTile(room);
  const video = createVideo(room);

  function tileFor(key, { kind, userId }) {
    let t = tiles.get(key);
    if (t) return t;
    const media = h('div', { class: 'lr-tile-media' }, h('span', { class: 'lr-tile-avatar', 'aria-hidden': 'true' }));
    const bar = h('div', { class: 'lr-tile-bar' });
    const wide = kind === 'screen' || kind === 'video';
    const attrs = { class: ['lr-tile', wide && 'lr-tile-screen', kind === 'video' && 'lr-tile-stage-video'], role: 'listitem' };
    attrs.dataset = kind === 'screen' ? { screenOf: userId } : kind === 'video' ? { stageVideo: '1' } : { userId };
    const tileEl = h('div', attrs, media, bar);
    t = { el: tileEl, media, bar, kind, userId, videoEl: null, sig: '' };
    tiles.set(key, t);
    return t;
  }

  function setVideo(t, videoEl) {
    if (t.videoEl === videoEl) return;
    if (t.videoEl) t.videoEl.remove();
    t.videoEl = videoEl;
    if (videoEl) t.media.append(videoEl);
  }

  function selfVideo(t, stream) {
    if (!stream) return null;
    if (t.selfStream === stream && t.selfVideo) return t.selfVideo;
    const v = h('video', { class: 'tile-video tile-self', autoplay: true, playsinline: true, muted: true });
    v.muted = true;
    v.srcObject = stream;
    v.play().catch(() => {});
    t.selfStream = stream;
    t.selfVideo = v;
    return v;
  }

  function personBar(p, me, { screen = false } = {}) {
    const you = p.user_id === me.user_id;
    const name = `${p.name}${you ? ' (you)' : ''}`;
    return [
      h('span', { class: 'lr-tile-name' }, screen ? ic('screen', 'icon icon-xs') : null, screen ? `${name} · screen` : name),
      screen
        ? null
        : h(
            'span',
            { class: 'lr-tile-icons' },
            p.is_speaker ? h('span', { class: 'lr-tile-role' }, p.is_host ? 'Host' : roleLabel(p.role)) : null,
            p.mic
              ? h('span', { class: 'lr-state-icon', title: 'Microphone on' }, ic('mic', 'icon icon-xs'), h('span', { class: 'visually-hidden' }, 'Microphone on'))
              : h('span', { class: 'lr-state-icon is-off', title: 'Microphone off' }, ic('micOff', 'icon icon-xs'), h('span', { class: 'visually-hidden' }, 'Microphone off')),
            p.camera
              ? null
              : h('span', { class: 'lr-state-icon is-off', title: 'Camera off' }, ic('cameraOff', 'icon icon-xs'), h('span', { class: 'visually-hidden' }, 'Camera off')),
          ),
    ];
  }

  /** Redraw from the latest state and media (cheap; called often). */
  function update() {
    const live = room.live;
    if (!live) return;
    const me = live.me;
    const media = room.media;
    const byId = new Map((live.people || []).map((p) => [p.user_id, p]));
    const onStage = (live.stage || []).map((id) => byId.get(id)).filter(Boolean);
    const speaker = live.active_speaker ?? (media ? media.activeSpeaker() : null);
    const wanted = [];

    // The presentation on stage leads, like a screen share.
    if (presentation.update(live.presentation)) {
      tiles.set('presentation', { el: presentation.el, kind: 'screen', presentation: true });
      wanted.push('presentation');
    }
    // A video on stage (video.js) comes first, like a screen share.
    const videoEl = video.update();
    if (videoEl) {
      const t = tileFor('video', { kind: 'video', userId: live.video.by });
      setVideo(t, videoEl);
      t.el.classList.add('has-video');
      t.el.setAttribute('aria-label', `Video presented by ${live.video.by_name}`);
      wanted.push('video');
    }

    // Screen shares first: others' (subscribed), then mine.
    for (const p of onStage) {
      const isMe = p.user_id === me.user_id;
      const sub = !isMe && media ? media.videosOf(p.user_id).screen : null;
      const mine = isMe && media && media.screen ? media.screen : null;
      if (!sub && !mine) continue;
      const key = `screen-${p.user_id}`;
      const t = tileFor(key, { kind: 'screen', userId: p.user_id });
      if (sub) setVideo(t, sub.canvas);
      else setVideo(t, selfVideo(t, mine.stream));
      const sig = `${p.name}|${isMe}`;
      if (t.sig !== sig) {
        t.sig = sig;
        replace(t.bar, personBar(p, me, { screen: true }));
      }
      t.track = sub ? sub.track : null;
      t.el.classList.add('has-video');
      wanted.push(key);
    }

    for (const p of onStage) {
      const isMe = p.user_id === me.user_id;
      const key = `user-${p.user_id}`;
      const t = tileFor(key, { kind: 'camera', userId: p.user_id });
      let hasVideo = false;
      t.track = null;
      if (isMe) {
        const cam = media && media.cam && p.camera ? media.cam.stream : null;
        // With a background chosen, what others get (background.js), else the camera itself.
        const view = cam ? media.selfView(t.selfView) : null;
        if (view) t.selfView = view;
        setVideo(t, view || selfVideo(t, cam));
        hasVideo = Boolean(cam);
        t.el.classList.add('is-me');
      } else if (media) {
        const sub = media.videosOf(p.user_id).camera;
        setVideo(t, sub ? sub.canvas : null);
        t.track = sub ? sub.track : null;
        hasVideo = Boolean(sub && p.camera && media.framesDecoded(sub.track) > 0);
      }
      const avatar = t.media.querySelector('.lr-tile-avatar');
      if (avatar.textContent !== initials(p.name)) avatar.textContent = initials(p.name);
      const sig = `${p.name}|${p.role}|${p.is_host}|${p.mic}|${p.camera}|${isMe}`;
      if (t.sig !== sig) {
        t.sig = sig;
        replace(t.bar, personBar(p, me));
        t.el.setAttribute('aria-label', `${p.name}${isMe ? ' (you)' : ''}${p.mic ? '' : ', muted'}${p.camera ? '' : ', camera off'}`);
      }
      const speaking = p.user_id === speaker || Boolean(media && media.isSpeaking(p.user_id));
      t.el.classList.toggle('has-video', hasVideo);
      t.el.classList.toggle('is-speaking', speaking && p.mic);
      t.el.dataset.speaking = speaking && p.mic ? '1' : '0';
      t.el.dataset.mic = p.mic ? 'on' : 'off';
      t.el.dataset.camera = p.camera ? 'on' : 'off';
      wanted.push(key);
    }

    // Place tiles in order, drop the rest (their canvases go with them).
    for (const [key, t] of tiles) {
      if (!wanted.includes(key)) {
        t.el.remove();
        tiles.delete(key);
      }
    }
    wanted.forEach((key, i) => {
      const t = tiles.get(key);
      if (grid.children[i] !== t.el) grid.insertBefore(t.el, grid.children[i] || null);
    });
    const screens = wanted.filter((k) => k.startsWith('screen-') || k === 'presentation' || k === 'video').length;
    grid.dataset.count = String(wanted.length - screens);
    grid.dataset.screens = String(screens);
    refreshFrames();

    empty.hidden = wanted.length > 0;
    if (!wanted.length) {
      const hostHere = (live.people || []).some((p) => p.is_host && p.room === me.room);
      replace(
        empty,
        h('span', { class: 'lr-stage-empty-icon', 'aria-hidden': 'true' }, ic('stage', 'icon icon-lg')),
        h('p', { class: 'lr-stage-empty-title' }, 'Nobody is on stage yet'),
        h('p', { class: 'lr-stage-empty-text' }, hostHere ? 'The speakers will appear here.' : 'Waiting for a host to join…'),
      );
    }

    // Top bar: audience count, breakout room name, host's pending requests.
    const inAudience = live.audience_count ?? 0;
    audience.replaceChildren(ic('users', 'icon icon-xs'), `${inAudience} in the audience`);
    audience.hidden = Boolean(me.room);
    const roomName = me.room ? (live.breakouts || []).find((b) => b.id === me.room) : null;
    const roomLabel = el.querySelector('#stage-room-name');
    roomLabel.hidden = !roomName;
    roomLabel.textContent = roomName ? roomName.name : '';
    const waiting = (live.queue || []).length;
    queuePill.hidden = !(me.can_moderate && waiting > 0);
    queuePill.querySelector('.lr-queue-pill-text').textContent = `${waiting} ${waiting === 1 ? 'request' : 'requests'} to join`;

    updateCountdown();
  }

  /** Per-tile decoded frame counts (a hook for tests) and video visibility. */
  function refreshFrames() {
    const media = room.media;
    for (const t of tiles.values()) {
      if (!t.track || !media) continue;
      const n = media.framesDecoded(t.track);
      t.el.dataset.framesDecoded = String(n);
      const d = media.decodedVideo(t.track);
      if (d) Object.assign(t.el.dataset, { decodedWidth: d.width, decodedHeight: d.height, fps: d.fps, layer: d.layer, layerFrames: d.byLayer.join(',') });
      if (t.kind === 'camera') t.el.dataset.audioFramesDecoded = String(media.audioFramesDecoded(t.userId));
      t.el.dataset.decodedHeight = String(media.decodedHeight(t.track));
      if (t.kind === 'camera' && n > 0 && t.el.dataset.camera === 'on') t.el.classList.add('has-video');
    }
  }

  /* ------------------------------------------------------ Countdown */

  function updateCountdown() {
    const end = room.countdownEnd;
    if (!end) {
      if (countdownEnd) {
        countdownEnd = null;
        overlay.hidden = true;
        replace(overlay);
        countdownPreview = null;
      }
      return;
    }
    if (countdownEnd !== end) {
      countdownEnd = end;
      const number = h('p', { class: 'lr-countdown-number', id: 'stage-countdown-number', 'aria-live': 'assertive' });
      const cancel = h(
        'button',
        { type: 'button', class: 'btn btn-secondary', id: 'cancel-countdown', onclick: () => room.cancelCountdown(cancel) },
        'Cancel',
      );
      countdownPreview = h('div', { class: 'lr-countdown-preview' });
      replace(
        overlay,
        h(
          'div',
          { class: 'lr-countdown-box' },
          h('h2', { class: 'lr-countdown-title', id: 'stage-countdown-title' }, 'Get ready — you’re going on stage'),
          number,
          countdownPreview,
          h('p', { class: 'lr-countdown-text' }, 'A host approved your request. Check your camera and microphone.'),
          cancel,
        ),
      );
      overlay.hidden = false;
      cancel.focus();
    }
    // Local preview of the camera opened early.
    const media = room.media;
    const stream = media && media.cam ? media.cam.stream : null;
    const current = countdownPreview.querySelector('video');
    const view = stream ? media.selfView(countdownPreview.querySelector('canvas')) : null;
    if (view) {
      if (view.parentNode !== countdownPreview) {
        view.className = 'lr-preview-video';
        replace(countdownPreview, view);
      }
    } else if (stream && (!current || current.srcObject !== stream)) {
      const v = h('video', { class: 'lr-preview-video', autoplay: true, playsinline: true, muted: true });
      v.muted = true;
      v.srcObject = stream;
      v.play().catch(() => {});
      replace(countdownPreview, v);
    } else if (!stream && countdownPreview.firstChild) {
      replace(countdownPreview);
    }
    tickCountdown();
  }

  function tickCountdown() {
    if (!countdownEnd) return;
    const number = overlay.querySelector('#stage-countdown-number');
    if (!number) return;
    const left = Math.ceil((countdownEnd - serverNow()) / 1000);
    const text = left > 0 ? String(left) : 'Going on stage…';
    if (number.textContent !== text) {
      number.textContent = text;
      number.classList.toggle('is-done', left <= 0);
      number.dataset.seconds = String(Math.max(0, left));
    }
  }

  return {
    el,
    agendaSlot: top.querySelector('#stage-agenda'),
    destroy: () => video.destroy(),
    update,
    tick() {
      tickCountdown();
      refreshFrames();
    },
  };
}
