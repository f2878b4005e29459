// Video on stage: the player tile everyone sees in step, the presenter's
// controls, and the dialog where a speaker pastes a YouTube link or uploads
// a file (docs/api-live.md, "Video on stage").
//
// The server keeps the room state `live.video`: what plays (an uploaded
// file served with range requests, or a YouTube id), `position_ms` at the
// server time `at`, and `playing`. Every page computes where the video
// should be now from its estimate of the server clock and corrects its
// player four times a second: a seek when it is more than 0.5 s off, else a
// playbackRate nudge (uploaded files; YouTube only takes a few rates, so
// there it is seeks alone). Play, pause, seek and stop are room commands;
// the page never decides who may use them (`video.can_control`,
// `me.can_show_video`).
//
// Server clock: the states carry `now` (the server's time when it built
// them); the largest `now − local receive time` of recent states is the
// best estimate of the offset (a state is never early, only late by its
// transit), good to the smallest transit, which beats the 1-second Date
// header that util.serverNow() uses. (web/media/timing.js's offset is to
// the media engine's clock, which has its own epoch.)
//
// Hooks: .lr-tile[data-stage-video] holds #stage-video (data-kind
// upload|youtube, data-playing, data-position), the player
// video#stage-video-player or iframe#stage-youtube, #video-play-toggle,
// #video-back, #video-forward, #video-seek (when the length is known),
// #video-time, #video-stop ("Close video"), #video-mute, #video-by, #video-autoplay-note; the dialog
// #video-dialog: #video-link, #video-show-link, #video-link-error,
// #video-file, #video-upload-progress, #video-upload-error, #video-list
// with buttons [data-show-video=ID]. window.podiumVideo.position() is the
// player's position in seconds (for tests).

import { h, icon, replace } from '../dom.js';
import { api } from '../api.js';
import { LI, clockText, modal, ms, showError } from './util.js';

/** Elapsed time as a player shows it: whole seconds so far (clockText rounds up, for countdowns). */
const elapsedText = (seconds) => clockText(Math.floor(Math.max(0, seconds)) * 1000);

const VI = {
  ...LI,
  play: ['M6 4l14 8-14 8V4z'],
  pause: ['M6 4h4v16H6z', 'M14 4h4v16h-4z'],
  volumeOff: ['M11 5 6 9H2v6h4l5 4V5z', 'M23 9l-6 6', 'M17 9l6 6'],
};
const ic = (name, cls = 'icon icon-sm') => icon(VI[name], cls);

const CSS_HREF = '/live/video.css';
const SYNC_MS = 250;
const SEEK_OFF_S = 0.5;
const NUDGE_OFF_S = 0.05;
const YT_SEEK_OFF_S = 1.0;

function ensureCss() {
  if (document.querySelector('link[data-video-css]')) return;
  document.head.append(h('link', { rel: 'stylesheet', href: CSS_HREF, dataset: { videoCss: '1' } }));
}

/* ------------------------------------------------------- Server clock */

const samples = []; // [local receive ms, offset ms]
let lastNow = null;

function sampleClock(live) {
  if (!live || !live.now || live.now === lastNow) return;
  lastNow = live.now;
  const local = Date.now();
  samples.push([local, ms(live.now) - local]);
  while (samples.length > 30 || (samples.length && local - samples[0][0] > 120000)) samples.shift();
}

/** The server's time now (ms), from the recent states. */
function serverNow() {
  if (!samples.length) return Date.now();
  let best = -Infinity;
  for (const [, off] of samples) best = Math.max(best, off);
  return Date.now() + best;
}

/** Where the video should be now, in seconds. */
export function targetSeconds(v, now = serverNow()) {
  const gone = v.playing ? Math.max(0, now - ms(v.at)) : 0;
  return (v.position_ms + gone) / 1000;
}

/* ------------------------------------------------------------ Players */

function filePlayer(v, onProblem) {
  const video = h('video', { id: 'stage-video-player', class: 'lr-video-player', preload: 'auto', playsinline: true });
  video.src = v.src;
  let playing = false;
  // Seeking takes time (more without an index, as in a recorded WebM): a
  // seek while playing aims that far ahead, and the next waits a moment,
  // so a slow seek is not chased by another.
  let seekStarted = 0;
  let seekLead = 0.2;
  let nextSeekAt = 0;
  const stats = { seeks: 0, drift: 0 };
  video.addEventListener('seeked', () => {
    if (!seekStarted) return;
    seekLead = Math.min(2, Math.max(0.1, (performance.now() - seekStarted) / 1000));
    seekStarted = 0;
    nextSeekAt = performance.now() + 1000;
  });
  const seek = (t) => {
    stats.seeks += 1;
    seekStarted = performance.now();
    video.currentTime = t;
  };
  const player = {
    el: video,
    stats,
    position: () => video.currentTime,
    duration: () => (Number.isFinite(video.duration) ? video.duration : null),
    muted: () => video.muted,
    setMuted(m) {
      video.muted = m;
    },
    sync(state) {
      if (video.readyState < 1 || video.seeking) return;
      let t = targetSeconds(state);
      const d = player.duration();
      if (d !== null) t = Math.min(t, d);
      const drift = video.currentTime - t;
      stats.drift = drift;
      // It played to its end and the room's position is past it: stay there
      // (play() on an ended video would start it over).
      if (state.playing && video.ended && t >= video.currentTime - SEEK_OFF_S) return;
      if (state.playing) {
        if (video.paused && !(d !== null && t >= d) && !playing) {
          playing = true;
          video.play().then(
            () => (playing = false),
            (err) => {
              playing = false;
              // No gesture on this page yet: play muted and offer the sound.
              if (err && err.name === 'NotAllowedError' && !video.muted) {
                video.muted = true;
                onProblem('muted');
                video.play().catch(() => {});
              }
            },
          );
        }
        if (Math.abs(drift) > SEEK_OFF_S && performance.now() >= nextSeekAt) {
          const to = d !== null ? Math.min(t + seekLead, d) : t + seekLead;
          seek(to);
          video.playbackRate = 1;
        } else if (Math.abs(drift) > NUDGE_OFF_S) {
          // Catch up (or wait) gently: up to ±10 % speed.
          video.playbackRate = 1 - Math.max(-0.1, Math.min(0.1, drift * 0.4));
        } else if (video.playbackRate !== 1) {
          video.playbackRate = 1;
        }
      } else {
        if (!video.paused) video.pause();
        video.playbackRate = 1;
        if (Math.abs(drift) > NUDGE_OFF_S) seek(t);
      }
    },
    destroy() {
      video.pause();
      video.removeAttribute('src');
      video.load();
    },
  };
  return player;
}

let ytApi = null;

/** YouTube's IFrame API (the page's CSP admits www.youtube.com for it). */
function loadYoutubeApi() {
  if (ytApi) return ytApi;
  ytApi = new Promise((resolve, reject) => {
    if (window.YT && window.YT.Player) return resolve(window.YT);
    const previous = window.onYouTubeIframeAPIReady;
    window.onYouTubeIframeAPIReady = () => {
      if (typeof previous === 'function') previous();
      resolve(window.YT);
    };
    const s = h('script', { src: 'https://www.youtube.com/iframe_api', async: true });
    s.addEventListener('error', () => {
      ytApi = null;
      reject(new Error('YouTube could not be reached.'));
    });
    document.head.append(s);
  });
  return ytApi;
}

/** The embed address: youtube-nocookie.com, the JS API on, our own controls. */
export function youtubeEmbedUrl(v, startSeconds, origin = window.location.origin) {
  const q = new URLSearchParams({
    enablejsapi: '1',
    origin,
    start: String(Math.floor(startSeconds)),
    controls: '0',
    disablekb: '1',
    rel: '0',
    playsinline: '1',
  });
  return `${v.src}?${q}`;
}

function youtubePlayer(v, onProblem) {
  const iframe = h('iframe', {
    id: 'stage-youtube',
    class: 'lr-video-player',
    title: 'YouTube video',
    src: youtubeEmbedUrl(v, targetSeconds(v)),
    allow: 'autoplay; encrypted-media; picture-in-picture; fullscreen',
    allowfullscreen: true,
    // The document's policy is same-origin; YouTube's player needs to know the embedding site.
    referrerpolicy: 'strict-origin-when-cross-origin',
  });
  let player = null;
  let ready = false;
  let muted = false;
  loadYoutubeApi().then(
    (YT) => {
      player = new YT.Player(iframe, {
        events: {
          onReady: () => {
            ready = true;
          },
          onError: () => onProblem('youtube'),
        },
      });
    },
    () => onProblem('youtube'),
  );
  return {
    el: iframe,
    position: () => (ready ? player.getCurrentTime() : null),
    duration: () => (ready && player.getDuration() > 0 ? player.getDuration() : null),
    muted: () => muted,
    setMuted(m) {
      muted = m;
      if (ready) (m ? player.mute() : player.unMute());
    },
    sync(state) {
      if (!ready) return;
      const t = targetSeconds(state);
      const st = player.getPlayerState(); // 1 playing, 2 paused, 3 buffering, 5 cued
      if (Math.abs(player.getCurrentTime() - t) > YT_SEEK_OFF_S) player.seekTo(t, true);
      if (state.playing && st !== 1 && st !== 3) player.playVideo();
      if (!state.playing && (st === 1 || st === 3)) player.pauseVideo();
    },
    destroy() {
      if (player && player.destroy) player.destroy();
    },
  };
}

/* -------------------------------------------------------- Stage tile */

/** The video tile's contents; `update()` answers the element to show, or null. */
export function createVideo(room) {
  ensureCss();
  const el = h('div', { class: 'lr-video', id: 'stage-video' });
  const bar = h('div', { class: 'lr-video-bar' });
  const note = h('p', { class: 'lr-video-note', id: 'video-autoplay-note', hidden: true });
  const by = h('span', { class: 'lr-video-by', id: 'video-by' });
  let current = null; // {key, player}
  let timer = null;
  let state = null;
  let barSig = '';

  window.podiumVideo = {
    position: () => (current ? current.player.position() : null),
    paused: () => (current && current.player.el.tagName === 'VIDEO' ? current.player.el.paused : null),
    ended: () => (current && current.player.el.tagName === 'VIDEO' ? current.player.el.ended : null),
    target: () => (state ? targetSeconds(state) : null),
    stats: () =>
      current
        ? {
            ...(current.player.stats || {}),
            position: current.player.position(),
            target: state ? targetSeconds(state) : null,
            readyState: current.player.el.readyState,
            paused: current.player.el.paused,
            rate: current.player.el.playbackRate,
          }
        : null,
  };

  function problem(kind) {
    if (kind === 'muted') {
      replace(note, ic('volume', 'icon icon-xs'), 'Playing without sound — ', h('button', { type: 'button', class: 'lr-video-link', onclick: unmute }, 'turn the sound on'));
    } else {
      replace(note, ic('alert', 'icon icon-xs'), 'The YouTube player could not load here.');
    }
    note.hidden = false;
  }

  function unmute() {
    if (!current) return;
    current.player.setMuted(false);
    note.hidden = true;
    barSig = '';
    renderBar();
  }

  function teardown() {
    if (timer) clearInterval(timer);
    timer = null;
    if (current) current.player.destroy();
    current = null;
    state = null;
    barSig = '';
    note.hidden = true;
    replace(el);
  }

  function tick() {
    if (!current || !state) return;
    if (!el.isConnected) return;
    current.player.sync(state);
    el.dataset.position = String(Math.round((current.player.position() || 0) * 1000));
    renderBar();
  }

  function send(button, rest, body, method) {
    return room.act(button, rest, body, method);
  }

  function renderBar() {
    const v = state;
    const p = current.player;
    const pos = p.position();
    const dur = p.duration();
    const shown = pos ?? targetSeconds(v);
    const timeText = `${elapsedText(shown)}${dur ? ` / ${clockText(dur * 1000)}` : ''}`;
    // The buttons are rebuilt only when what they offer changes (keeping
    // focus and clicks); the time and the slider move in place.
    const sig = JSON.stringify([v.playing, v.can_control, v.by_name, v.kind, dur && Math.floor(dur), p.muted()]);
    if (sig === barSig) {
      const t = bar.querySelector('#video-time');
      if (t && t.textContent !== timeText) t.textContent = timeText;
      const slider = bar.querySelector('#video-seek');
      if (slider && document.activeElement !== slider) slider.value = String(shown);
      return;
    }
    if (document.activeElement && document.activeElement.id === 'video-seek') return;
    barSig = sig;
    const time = h('span', { class: 'lr-video-time', id: 'video-time' }, timeText);
    const items = [];
    if (v.can_control) {
      const toggle = h(
        'button',
        {
          type: 'button',
          id: 'video-play-toggle',
          class: 'btn btn-primary btn-sm lr-video-btn',
          'aria-pressed': String(v.playing),
          onclick: () =>
            v.playing
              ? send(toggle, '/video/pause', { position_ms: Math.round((p.position() || 0) * 1000) })
              : send(toggle, '/video/play', {}),
        },
        ic(v.playing ? 'pause' : 'play', 'icon icon-sm'),
        v.playing ? 'Pause' : 'Play',
      );
      items.push(toggle);
      const skip = (id, seconds, iconName, label) =>
        h(
          'button',
          {
            type: 'button',
            id,
            class: 'btn btn-ghost btn-sm lr-video-btn lr-video-icon-btn',
            title: label,
            onclick: (e) => {
              let to = Math.max(0, (p.position() ?? targetSeconds(v)) + seconds);
              if (dur) to = Math.min(to, dur);
              send(e.currentTarget, '/video/seek', { position_ms: Math.round(to * 1000) });
            },
          },
          ic(iconName, 'icon icon-sm'),
          h('span', { class: 'visually-hidden' }, label),
        );
      items.push(skip('video-back', -10, 'skipBack', 'Back 10 seconds'), skip('video-forward', 10, 'skipForward', 'Forward 10 seconds'));
      if (dur) {
        const seek = h('input', {
          type: 'range',
          id: 'video-seek',
          class: 'lr-video-seek',
          min: '0',
          max: String(dur),
          step: '0.1',
          value: String(pos || 0),
          'aria-label': 'Position in the video',
        });
        seek.addEventListener('change', () => {
          send(null, '/video/seek', { position_ms: Math.round(Number(seek.value) * 1000) });
          seek.blur();
        });
        items.push(seek);
      }
      items.push(time);
    } else {
      items.push(h('span', { class: 'lr-video-state' }, ic(v.playing ? 'play' : 'pause', 'icon icon-xs'), v.playing ? 'Playing' : 'Paused'), time);
    }
    items.push(
      h('span', { class: 'lr-video-spacer' }),
      h(
        'button',
        {
          type: 'button',
          id: 'video-mute',
          class: 'btn btn-ghost btn-sm lr-video-btn lr-video-icon-btn',
          'aria-pressed': String(p.muted()),
          title: p.muted() ? 'Turn the sound on' : 'Mute the video (for you)',
          onclick: () => (p.muted() ? unmute() : (p.setMuted(true), (barSig = ''), renderBar())),
        },
        ic(p.muted() ? 'volumeOff' : 'volume', 'icon icon-sm'),
        h('span', { class: 'visually-hidden' }, p.muted() ? 'Turn the sound on' : 'Mute the video'),
      ),
    );
    if (v.can_control) {
      items.push(
        h(
          'button',
          {
            type: 'button',
            id: 'video-stop',
            class: 'btn btn-secondary btn-sm lr-video-btn lr-video-icon-btn',
            title: 'Close the video (takes it off stage for everyone)',
            onclick: (e) => send(e.currentTarget, '/video', null, 'DELETE'),
          },
          ic('x', 'icon icon-sm'),
          h('span', { class: 'visually-hidden' }, 'Close video'),
        ),
      );
    }
    replace(bar, items);
    by.replaceChildren(ic('film', 'icon icon-xs'), `${v.kind === 'youtube' ? 'YouTube' : 'Video'} · ${v.by_name}`);
  }

  function update() {
    const live = room.live;
    sampleClock(live);
    const v = live && live.video;
    if (!v) {
      if (current) teardown();
      return null;
    }
    const key = v.kind === 'youtube' ? `yt:${v.youtube_id}` : `up:${v.upload_id}`;
    if (!current || current.key !== key) {
      teardown();
      const player = v.kind === 'youtube' ? youtubePlayer(v, problem) : filePlayer(v, problem);
      current = { key, player };
      el.dataset.kind = v.kind;
      replace(el, player.el, by, note, bar);
      timer = setInterval(tick, SYNC_MS);
    }
    state = v;
    el.dataset.playing = v.playing ? '1' : '0';
    current.player.sync(v);
    renderBar();
    return el;
  }

  return { el, update, destroy: teardown };
}

/* ------------------------------------------------------------- Dialog */

function sizeText(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** Uploads a file with progress (fetch has no upload progress). */
function uploadFile(sessionId, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/sessions/${encodeURIComponent(sessionId)}/videos?name=${encodeURIComponent(file.name || 'video')}`);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else reject(new Error((body && body.error && body.error.message) || `The upload failed (HTTP ${xhr.status}).`));
    });
    xhr.addEventListener('error', () => reject(new Error('The upload was interrupted. Check your connection and try again.')));
    xhr.send(file);
  });
}

/** "Video" in the controls: paste a YouTube link, upload a file, pick one. */
export function openVideoDialog(room) {
  const sessionId = room.session.id;
  const link = h('input', { id: 'video-link', class: 'input', type: 'url', placeholder: 'https://www.youtube.com/watch?v=…', autocomplete: 'off', 'aria-describedby': 'video-link-error' });
  const linkError = h('p', { class: 'form-error', id: 'video-link-error', role: 'alert', hidden: true });
  const showLink = h('button', { type: 'submit', class: 'btn btn-primary', id: 'video-show-link' }, 'Show on stage');
  const file = h('input', { id: 'video-file', type: 'file', class: 'lr-video-file', accept: 'video/mp4,video/webm,.mp4,.webm' });
  const progress = h('progress', { id: 'video-upload-progress', class: 'lr-video-progress', max: '1', value: '0', hidden: true });
  const uploadError = h('p', { class: 'form-error', id: 'video-upload-error', role: 'alert', hidden: true });
  const hint = h('p', { class: 'muted small', id: 'video-upload-hint' }, 'MP4 or WebM.');
  const list = h('ul', { class: 'lr-video-list', id: 'video-list', 'aria-label': 'Uploaded videos' });
  const done = h('button', { type: 'button', class: 'btn btn-secondary', id: 'video-dialog-close' }, 'Close');

  const { close } = modal({
    id: 'video-dialog',
    title: 'Show a video on stage',
    wide: true,
    body: [
      h(
        'form',
        { class: 'lr-video-form', id: 'video-link-form', novalidate: true },
        h('label', { class: 'label', for: 'video-link' }, 'YouTube link'),
        h('div', { class: 'lr-video-row' }, link, showLink),
        linkError,
      ),
      h(
        'div',
        { class: 'lr-video-form' },
        h('label', { class: 'label', for: 'video-file' }, 'Or upload a video file'),
        file,
        hint,
        progress,
        uploadError,
      ),
      h('h3', { class: 'lr-video-list-title' }, 'This session’s videos'),
      list,
    ],
    actions: [done],
  });
  done.addEventListener('click', close);

  async function show(body, errorEl, button) {
    showError(errorEl, '');
    if (button) button.disabled = true;
    try {
      await room.call('/video', body);
      close();
    } catch (err) {
      showError(errorEl, err.message);
    } finally {
      if (button) button.disabled = false;
    }
  }

  function renderList(videos) {
    if (!videos.length) {
      replace(list, h('li', { class: 'muted small' }, 'No videos uploaded yet.'));
      return;
    }
    replace(
      list,
      videos.map((v) => {
        const b = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', dataset: { showVideo: String(v.id) } }, ic('play', 'icon icon-xs'), 'Show on stage');
        b.addEventListener('click', () => show({ upload: v.id }, uploadError, b));
        return h('li', { class: 'lr-video-item' }, h('span', { class: 'lr-video-item-name' }, v.name), h('span', { class: 'muted small' }, `${v.kind.toUpperCase()} · ${sizeText(v.bytes)}`), b);
      }),
    );
  }

  let videos = [];
  async function reload() {
    try {
      const res = await api.get(`/api/sessions/${encodeURIComponent(sessionId)}/videos`);
      videos = res.videos;
      hint.textContent = `MP4 or WebM, up to ${Math.round(res.max_bytes / (1024 * 1024))} MB.`;
      renderList(videos);
    } catch (err) {
      replace(list, h('li', { class: 'form-error' }, err.message));
    }
  }
  reload();

  link.form.addEventListener('submit', (e) => {
    e.preventDefault();
    show({ youtube: link.value }, linkError, showLink);
  });
  file.addEventListener('change', async () => {
    const f = file.files && file.files[0];
    if (!f) return;
    showError(uploadError, '');
    progress.hidden = false;
    progress.value = 0;
    file.disabled = true;
    try {
      const v = await uploadFile(sessionId, f, (p) => (progress.value = p));
      videos = [...videos.filter((x) => x.id !== v.id), v];
      renderList(videos);
      list.querySelector(`[data-show-video="${v.id}"]`)?.focus();
    } catch (err) {
      showError(uploadError, err.message);
    } finally {
      progress.hidden = true;
      file.disabled = false;
      file.value = '';
    }
  });
  link.focus();
}
