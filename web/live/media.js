// The live room's media: one MediaClient (web/media/client.js) per join
// token, driven by the control plane's state.
//
//   const media = new LiveMedia({ log });
//   media.addEventListener('change', redrawTiles);   // tracks, captures, levels
//   media.addEventListener('lost', rejoin);          // the SFU session closed
//   await media.connect(join.media);                 // {url, token, cert_hashes, ws_path}
//   media.update(live, { prepare });                 // after every `state`
//
// What it does with the client:
// - connect({url, token, certHashes, wsUrl}) once per token: WebTransport, or
//   the WebSocket on this origin when WebTransport is missing or does not
//   connect within a few seconds (after such a failure later reconnects go
//   straight to the WebSocket); pathLabel() says which. When the session
//   closes it emits `lost` (problemText() says why) and the room asks
//   POST /live/join for a fresh token.
// - On stage (me.on_stage and the SFU's Permission may_publish): camera on →
//   getUserMedia video + publishCamera; camera off → unpublish and stop the
//   capture (the camera light goes off). Mic on → getUserMedia audio +
//   publishMicrophone once; mic off → setMuted(true) (instant unmute).
//   Off stage → unpublish everything and stop every capture.
// - During the 5 s countdown the devices are opened early (preview), so the
//   tracks are published as soon as the stage is ours.
// - Background (blur, slight blur, a preset picture): `background`, one
//   BackgroundEffect (web/media/background.js) the camera's frames pass
//   through before encoding; while one is chosen, selfView() is a canvas
//   showing what is sent (fed by the publisher, or by a preview of the camera
//   before it is published, e.g. in the countdown).
// - Screen share: getDisplayMedia + publishScreen; the browser's "Stop
//   sharing" ends it (unpublish).
// - Subscriptions: only the tracks of people shown on stage in my room
//   (live.stage, as the server says; attachVideo to a canvas.tile-video per
//   track, attachAudio for audio);
//   the rest is unsubscribed; with more than 4 people on stage camera tiles
//   ask for temporal layers 0–1 only (setLayerPreference). Each video canvas
//   is watched (ResizeObserver, debounced): its height in device pixels goes
//   to the server (setViewSize), which sends a small tile a camera's small
//   quality. AudioLevels give the active speaker.

import { h } from '../dom.js';
import { BackgroundEffect } from '../media/background.js';
import { MediaClient } from '../media/client.js';
import { webSocketUrl } from '../media/ws-transport.js';

const SPEAKING_LEVEL = 50; // −dBov: lower is louder; quieter than this is not speech
const SPEAKING_HOLD_MS = 1500;
const VIEW_SIZE_DEBOUNCE_MS = 250;
// Camera tracks are at most 640x360 (publish.js VIDEO_PRESETS.camera); larger is a screen.
const CAMERA_MAX = { width: 640, height: 360 };

function isScreenSized(config) {
  return (config.width || 0) > CAMERA_MAX.width || (config.height || 0) > CAMERA_MAX.height;
}

function deviceProblem(err, device) {
  const name = err && err.name;
  const what = device === 'camera' ? 'camera' : 'microphone';
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return { kind: 'blocked', device, message: `Your browser blocked the ${what}. Allow access in the address bar, then retry.` };
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') {
    return { kind: 'missing', device, message: `No ${what} was found. Connect one, then retry.` };
  }
  if (name === 'NotReadableError' || name === 'AbortError') {
    return { kind: 'busy', device, message: `The ${what} is in use by another app or could not start. Close it, then retry.` };
  }
  return { kind: 'failed', device, message: `The ${what} could not start: ${(err && err.message) || err}` };
}

// WebTransport is not required: without it (or with UDP blocked) media goes
// over a WebSocket on this origin. Decoding needs WebCodecs.
/** This browser can receive the stage's audio and video (MediaClient.support()). */
export function mediaSupported() {
  return MediaClient.support().receive;
}

/** This browser can send camera and microphone: the stage is offered only then. */
export function canPublishHere() {
  return MediaClient.support().publish;
}

const FALLBACK_WHY = {
  timeout: 'UDP seems blocked',
  failed: 'UDP seems blocked',
  chosen: 'UDP was blocked earlier',
  missing: 'this browser has no WebTransport',
};

// The first word of a close reason (`<code>: <message>`, PROTOCOL.md §6).
function reasonCode(reason) {
  const m = /^([a-z_]+):/.exec(reason || '');
  return m ? m[1] : '';
}

export class LiveMedia extends EventTarget {
  constructor({ log } = {}) {
    super();
    this.log = log || (() => {});
    this.client = null;
    this.status = 'off'; // off | connecting | connected | closed | unsupported
    this.error = null; // the last connection problem
    this.closeInfo = null; // {code, reason, transport} of the last lost connection
    this.transport = null; // 'webtransport' | 'websocket' of the current client
    this.fallback = null; // why not WebTransport (MediaClient.fallback)
    this.preferWebSocket = false; // after WebTransport failed once: go straight to TCP
    this.publishError = null;
    this.deviceErrors = { camera: null, mic: null }; // {kind, device, message} per device
    this.failed = { camera: false, mic: false }; // don't ask again until retryDevices()
    this.want = { onStage: false, camera: false, mic: false, prepare: null, visible: new Set(), me: null };
    this.cam = null; // {stream, track, trackId}
    this.mic = null;
    this.screen = null;
    this.chosen = { camera: '', mic: '' }; // deviceIds picked in the settings
    this.background = new BackgroundEffect();
    this.background.addEventListener('change', () => {
      this.syncPreview();
      this.changed();
    });
    this.stopPreview = null;
    this.previewOf = null; // the cam the preview feeds from
    this.subs = new Map(); // global track id → {track, participant, kind, config, canvas?, audio?}
    this.speaking = new Map(); // participant → {level, at}
    this.running = false;
    this.dirty = false;
    this.stopped = false;
    this.changeQueued = false;
  }

  /** The device problem to show ({kind, device: 'camera'|'mic'|'both', message}) or null. */
  get deviceError() {
    const { camera, mic } = this.deviceErrors;
    if (camera && mic) {
      const blocked = camera.kind === 'blocked' || mic.kind === 'blocked';
      return {
        kind: blocked ? 'blocked' : camera.kind,
        device: 'both',
        message: blocked
          ? 'Your browser blocked the camera and microphone. Allow access in the address bar, then retry.'
          : camera.kind === 'missing' && mic.kind === 'missing'
            ? 'No camera or microphone was found. Connect them, then retry.'
            : `${camera.message} ${mic.message}`,
      };
    }
    return camera || mic;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Coalesced 'change'. */
  changed() {
    if (this.changeQueued) return;
    this.changeQueued = true;
    // A timer, not requestAnimationFrame: background tabs must keep up too.
    setTimeout(() => {
      this.changeQueued = false;
      this.emit('change');
    }, 30);
  }

  // ------------------------------------------------------------ session

  /** Connects with a join token (media object of POST /live/join). */
  async connect(media) {
    if (this.stopped) return;
    this.dropClient();
    if (!mediaSupported()) {
      this.status = 'unsupported';
      this.error = 'This browser cannot play live audio and video (it lacks WebCodecs). Update it to its latest version; the stage list, chat and Q&A work meanwhile.';
      this.changed();
      return;
    }
    const client = new MediaClient({ log: this.log });
    this.client = client;
    this.status = 'connecting';
    this.error = null;
    this.changed();
    client.addEventListener('trackadded', () => this.syncSubs());
    client.addEventListener('trackremoved', (e) => {
      this.subs.delete(e.detail.track);
      this.syncSubs();
    });
    client.addEventListener('permission', () => this.schedule());
    client.addEventListener('unpublished', (e) => this.onUnpublished(e.detail));
    client.addEventListener('levels', (e) => this.onLevels(e.detail.levels));
    client.addEventListener('servererror', (e) => this.log(`media server: ${e.detail.code}: ${e.detail.reason}`));
    client.addEventListener('close', (e) => {
      if (this.client !== client) return;
      this.status = 'closed';
      this.error = e.detail.reason || e.detail.meaning || 'connection closed';
      this.closeInfo = { code: e.detail.code, reason: e.detail.reason || '', transport: client.transport };
      this.forgetPublications();
      this.subs.clear();
      this.speaking.clear();
      this.changed();
      if (!this.stopped) this.emit('lost', e.detail);
    });
    const wsUrl = media.ws_path ? webSocketUrl(media.ws_path) : null;
    try {
      await client.connect({
        url: media.url,
        token: media.token,
        certHashes: media.cert_hashes || null,
        wsUrl,
        prefer: this.preferWebSocket ? 'websocket' : null,
      });
    } catch (err) {
      this.log(`media connect failed: ${err.message}`);
      return; // 'close' reported it
    }
    if (this.client !== client) return;
    this.transport = client.transport;
    this.fallback = client.fallback;
    if (client.fallback === 'timeout' || client.fallback === 'failed') this.preferWebSocket = true;
    this.log(`media over ${client.transport}${client.fallback ? ` (${client.fallback})` : ''}`);
    this.status = 'connected';
    this.closeInfo = null;
    this.changed();
    this.syncSubs();
    this.schedule();
  }

  /** Which path media takes, for the room to show (null while not connected). */
  pathLabel() {
    if (this.status !== 'connected' || !this.transport) return null;
    if (this.transport === 'webtransport') return 'Media: WebTransport (UDP)';
    const why = FALLBACK_WHY[this.fallback];
    return `Media: WebSocket (TCP)${why ? ` — ${why}` : ''}`;
  }

  /** Why media is reconnecting and what the person can do, in a sentence or two. */
  problemText() {
    const c = this.closeInfo;
    if (!c) return 'Audio and video were interrupted. Reconnecting…';
    const code = reasonCode(c.reason);
    if (c.code === null || c.code === undefined) {
      return c.transport === 'websocket'
        ? 'The media connection (WebSocket over TCP) was lost. Reconnecting… If this repeats, check your network connection.'
        : 'The media connection (WebTransport over UDP) was lost. Reconnecting… If UDP is blocked here, media switches to TCP by itself.';
    }
    if (c.code === 4) return 'Audio and video went to this account in another tab or device. Reconnecting here…';
    if (c.code === 3) return `The media server did not accept this connection (${code || 'refused'}). Reconnecting with a fresh pass…`;
    if (c.code === 1 || c.code === 2) return `Audio and video stopped after a protocol error (${code || 'error'}). Reconnecting… Reloading the page helps if this repeats.`;
    if (code === 'left') return 'Audio and video stopped because you left the room elsewhere. Reconnecting…';
    return `Audio and video were interrupted${code ? ` (${code})` : ''}. Reconnecting…`;
  }

  dropClient() {
    const c = this.client;
    this.client = null;
    this.forgetPublications();
    this.subs.clear();
    if (c) c.close();
  }

  forgetPublications() {
    if (this.cam) this.cam.trackId = null;
    if (this.mic) this.mic.trackId = null;
    if (this.screen) {
      this.stopTracks(this.screen.stream);
      this.screen = null;
    }
  }

  /** Leaves: closes the session and stops every capture. */
  stop() {
    this.stopped = true;
    this.dropClient();
    this.releaseCamera();
    this.releaseMic();
    this.background.close();
    this.status = 'off';
  }

  /**
   * My camera as others get it while a background is chosen (a canvas fed by
   * the effect), or null: then the raw camera stream is the right view.
   */
  selfView(existing) {
    if (!this.cam || !this.background.active()) return null;
    const canvas = existing || this.background.view('tile-video tile-self');
    this.background.views.add(canvas);
    return canvas;
  }

  /** Keeps a preview of the camera running while a background applies (publishing or not). */
  syncPreview() {
    const want = this.cam && this.background.active() ? this.cam : null;
    if (want === this.previewOf) return;
    if (this.stopPreview) this.stopPreview();
    this.stopPreview = want ? this.background.preview(want.track) : null;
    this.previewOf = want;
  }

  connected() {
    return Boolean(this.client && this.client.state === 'connected');
  }

  /** Resumes audio playback (after a user gesture). */
  resumeAudio() {
    if (this.client) this.client.resumeAudio().catch(() => {});
  }

  audioBlocked() {
    return Boolean(this.client && this.client.audioOut && this.client.audioOut.state === 'suspended');
  }

  stats() {
    return this.client ? this.client.stats() : null;
  }

  // ------------------------------------------------------- desired state

  /**
   * Takes the wanted state from a `Live` snapshot. `prepare` = {camera, mic}
   * while my countdown runs (open the devices early), else null.
   */
  update(live, { prepare = null } = {}) {
    const me = live.me || {};
    const onStage = Boolean(me.in_room && me.on_stage && live.status === 'live');
    // The stage I see is the server's: `live.stage` (people on stage in my room).
    const visible = new Set((live.stage || []).filter((id) => id !== me.user_id));
    this.want = { onStage, camera: onStage && me.camera, mic: onStage && me.mic, prepare: onStage ? null : prepare, visible, me: me.user_id };
    this.syncSubs();
    this.schedule();
  }

  /** Asks for the devices again after they were blocked or missing. */
  retryDevices() {
    this.failed = { camera: false, mic: false };
    this.deviceErrors = { camera: null, mic: null };
    this.changed();
    this.schedule();
  }

  /** Mute at once (a host's mute request), before the state catches up. */
  muteNow() {
    this.want.mic = false;
    if (this.mic && this.mic.trackId != null && this.connected()) this.client.setMuted(this.mic.trackId, true);
    if (this.mic) this.mic.track.enabled = false;
    this.changed();
  }

  schedule() {
    this.dirty = true;
    if (this.running || this.stopped) return;
    this.running = true;
    (async () => {
      try {
        while (this.dirty && !this.stopped) {
          this.dirty = false;
          try {
            await this.reconcile();
          } catch (err) {
            this.log(`media: ${err.message || err}`);
          }
        }
      } finally {
        this.running = false;
      }
    })();
  }

  async reconcile() {
    const w = this.want;
    const needCam = (w.onStage && w.camera) || Boolean(w.prepare && w.prepare.camera);
    const needMic = (w.onStage && (w.mic || this.mic)) || Boolean(w.prepare && w.prepare.mic);

    // Captures.
    if (!needCam && this.cam) this.releaseCamera();
    if (!needMic && this.mic) this.releaseMic();
    if (needCam && !this.cam && !this.failed.camera) this.cam = await this.acquire('camera');
    if (needMic && !this.mic && !this.failed.mic) this.mic = await this.acquire('mic');
    if (this.mic) this.mic.track.enabled = Boolean(w.mic || w.prepare);
    if (!w.onStage && this.screen) this.stopScreen();

    // Publications.
    const c = this.client;
    if (!c || c.state !== 'connected') return;
    if (!(w.onStage && c.mayPublish)) {
      for (const cap of [this.cam, this.mic]) {
        if (cap && cap.trackId != null) {
          c.unpublish(cap.trackId);
          cap.trackId = null;
        }
      }
      return;
    }
    this.publishError = null;
    if (this.mic && this.mic.trackId != null) c.setMuted(this.mic.trackId, !w.mic);
    if (this.cam && this.cam.trackId == null && !this.cam.publishing) await this.publish(this.cam, 'camera');
    if (this.mic && this.mic.trackId == null && !this.mic.publishing && w.mic) await this.publish(this.mic, 'mic');
    if (this.mic && this.mic.trackId != null) c.setMuted(this.mic.trackId, !this.want.mic);
  }

  async publish(cap, kind) {
    const c = this.client;
    cap.publishing = true;
    this.changed();
    try {
      const p = kind === 'camera' ? await c.publishCamera(cap.stream, { effect: this.background }) : await c.publishMicrophone(cap.stream);
      if (c !== this.client || (kind === 'camera' ? this.cam : this.mic) !== cap) {
        c.unpublish(p.trackId);
        return;
      }
      cap.trackId = p.trackId;
      this.log(`published ${kind}: track ${p.track} (${p.config.codec})`);
    } catch (err) {
      this.publishError = `Could not send your ${kind === 'camera' ? 'video' : 'audio'}: ${err.message}`;
      this.log(this.publishError);
    } finally {
      cap.publishing = false;
      this.changed();
    }
  }

  async acquire(device) {
    const id = this.chosen[device];
    const constraints =
      device === 'camera'
        ? { video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30 }, ...(id ? { deviceId: { exact: id } } : {}) } }
        : { audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, ...(id ? { deviceId: { exact: id } } : {}) } };
    let stream;
    try {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw Object.assign(new Error('this page cannot use cameras (it needs HTTPS)'), { name: 'SecurityError' });
      }
      stream = await navigator.mediaDevices.getUserMedia(constraints);
    } catch (err) {
      this.failed[device] = true;
      this.deviceErrors[device] = deviceProblem(err, device);
      this.changed();
      return null;
    }
    this.deviceErrors[device] = null;
    const track = device === 'camera' ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
    const cap = { stream, track, trackId: null, publishing: false };
    if (device === 'camera') setTimeout(() => this.syncPreview(), 0); // once this.cam is set
    track.addEventListener('ended', () => {
      // Unplugged or revoked: drop it; the next reconcile opens a device again.
      if ((device === 'camera' ? this.cam : this.mic) !== cap) return;
      if (device === 'camera') this.releaseCamera();
      else this.releaseMic();
      this.schedule();
    });
    this.changed();
    return cap;
  }

  releaseCamera() {
    if (!this.cam) return;
    if (this.cam.trackId != null && this.connected()) this.client.unpublish(this.cam.trackId);
    this.stopTracks(this.cam.stream);
    this.cam = null;
    this.syncPreview();
    this.changed();
  }

  releaseMic() {
    if (!this.mic) return;
    if (this.mic.trackId != null && this.connected()) this.client.unpublish(this.mic.trackId);
    this.stopTracks(this.mic.stream);
    this.mic = null;
    this.changed();
  }

  stopTracks(stream) {
    if (stream) for (const t of stream.getTracks()) t.stop();
  }

  onUnpublished({ trackId, reason }) {
    for (const cap of [this.cam, this.mic]) {
      if (cap && cap.trackId === trackId) cap.trackId = null;
    }
    if (this.screen && this.screen.trackId === trackId) {
      this.stopTracks(this.screen.stream);
      this.screen = null;
    }
    this.log(`track ${trackId} unpublished: ${reason}`);
    this.changed();
  }

  /** Switch camera or microphone (deviceId from enumerateDevices). */
  setDevice(device, deviceId) {
    if (this.chosen[device] === deviceId) return;
    this.chosen[device] = deviceId;
    this.failed[device] = false;
    if (device === 'camera' && this.cam) this.releaseCamera();
    if (device === 'mic' && this.mic) this.releaseMic();
    this.schedule();
  }

  async listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return { cameras: [], mics: [] };
    const all = await navigator.mediaDevices.enumerateDevices();
    const label = (d, i, what) => d.label || `${what} ${i + 1}`;
    const cameras = all.filter((d) => d.kind === 'videoinput').map((d, i) => ({ id: d.deviceId, label: label(d, i, 'Camera') }));
    const mics = all.filter((d) => d.kind === 'audioinput').map((d, i) => ({ id: d.deviceId, label: label(d, i, 'Microphone') }));
    return { cameras, mics };
  }

  currentDevice(device) {
    const cap = device === 'camera' ? this.cam : this.mic;
    if (cap && cap.track.getSettings) return cap.track.getSettings().deviceId || this.chosen[device];
    return this.chosen[device];
  }

  // ------------------------------------------------------------ screen

  canShare() {
    return this.connected() && this.client.mayPublish && this.want.onStage && Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  }

  async startScreen() {
    if (this.screen) return;
    if (!this.canShare()) throw new Error('Screen sharing needs the media connection and a place on stage.');
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    const share = { stream, track, trackId: null };
    this.screen = share;
    track.addEventListener('ended', () => {
      if (this.screen === share) this.stopScreen();
    });
    this.changed();
    try {
      const p = await this.client.publishScreen(stream);
      if (this.screen !== share) {
        this.client.unpublish(p.trackId);
        return;
      }
      share.trackId = p.trackId;
    } catch (err) {
      if (this.screen === share) this.stopScreen();
      throw err;
    }
  }

  stopScreen() {
    const share = this.screen;
    if (!share) return;
    this.screen = null;
    if (share.trackId != null && this.connected()) this.client.unpublish(share.trackId);
    this.stopTracks(share.stream);
    this.changed();
  }

  // ------------------------------------------------------- subscriptions

  syncSubs() {
    const c = this.client;
    if (!c || c.state !== 'connected') return;
    let touched = false;
    for (const [track, info] of c.tracks) {
      const want = this.want.visible.has(info.participant);
      const have = this.subs.get(track);
      if (want && !have) {
        const sub = { track, participant: info.participant, kind: info.config.kind, config: info.config };
        try {
          if (sub.kind === 'video') {
            sub.canvas = h('canvas', { class: 'tile-video', width: info.config.width || 640, height: info.config.height || 360, dataset: { track } });
            c.attachVideo(track, sub.canvas);
            sub.size = this.watchSize(sub);
          } else {
            sub.audio = c.attachAudio(track).catch((err) => this.log(`audio ${track}: ${err.message}`));
          }
          this.subs.set(track, sub);
          touched = true;
        } catch (err) {
          this.log(`subscribe ${track}: ${err.message}`);
        }
      } else if (!want && have) {
        c.unsubscribe(track);
        have.size?.disconnect();
        this.subs.delete(track);
        touched = true;
      }
    }
    for (const track of [...this.subs.keys()]) {
      if (!c.tracks.has(track)) {
        this.subs.get(track).size?.disconnect();
        this.subs.delete(track);
        touched = true;
      }
    }
    // Small tiles (a crowded stage) get the lower frame rate: temporal layers 0–1.
    const crowded = this.want.visible.size > 4;
    for (const sub of this.subs.values()) {
      if (sub.kind !== 'video') continue;
      const layer = crowded && !isScreenSized(sub.config) ? 1 : 2;
      if ((sub.layer ?? 2) !== layer) {
        c.setLayerPreference(sub.track, layer);
        sub.layer = layer;
      }
    }
    if (touched) this.changed();
  }

  /** The subscribed video of a participant: {camera, screen} (each a sub or null). */
  videosOf(participant) {
    const vids = [...this.subs.values()].filter((s) => s.participant === participant && s.kind === 'video').sort((a, b) => a.track - b.track);
    // Tracks say what they carry (TrackConfig.source); older publishers did
    // not, so fall back to size and order for them.
    let screen = vids.find((s) => s.config && s.config.source === 'screen') || null;
    if (!screen && !vids.some((s) => s.config && s.config.source)) {
      screen = vids.find((s) => isScreenSized(s.config)) || null;
      if (!screen && vids.length > 1) screen = vids[vids.length - 1];
    }
    const camera = vids.find((s) => s !== screen) || null;
    return { camera, screen };
  }

  // Reports how tall a video canvas is shown (device pixels), 250 ms after
  // its size last changed, so the server picks the quality that fills it.
  watchSize(sub) {
    if (typeof ResizeObserver !== 'function') return null;
    let timer = null;
    const report = () => {
      const el = sub.canvas;
      if (!el.isConnected || !this.client) return;
      this.client.setViewSize(sub.track, el.getBoundingClientRect().height * (window.devicePixelRatio || 1));
    };
    const ro = new ResizeObserver(() => {
      clearTimeout(timer);
      timer = setTimeout(report, VIEW_SIZE_DEBOUNCE_MS);
    });
    ro.observe(sub.canvas);
    return {
      disconnect() {
        clearTimeout(timer);
        ro.disconnect();
      },
    };
  }

  /** The height of the last decoded frame of a video track (0 before one). */
  decodedHeight(track) {
    const r = this.client && this.client.receivers.get(track);
    return r && r.stats ? r.stats.height || 0 : 0;
  }

  framesDecoded(track) {
    const r = this.client && this.client.receivers.get(track);
    return r && r.stats ? r.stats.framesDecoded || 0 : 0;
  }

  /** What the decoder puts out for a video track: size, frames decoded per temporal layer, frames and highest layer in the last second. */
  decodedVideo(track) {
    const r = this.client && this.client.receivers.get(track);
    if (!r || !r.recent) return null;
    return { width: r.stats.width, height: r.stats.height, byLayer: r.stats.framesDecodedByLayer, ...r.recent() };
  }

  /** Audio frames decoded so far from a participant (all their audio tracks). */
  audioFramesDecoded(participant) {
    let n = 0;
    for (const r of this.client ? this.client.receivers.values() : []) {
      if (r.kind === 'audio' && r.participant === participant) n += r.stats.audioFramesDecoded || 0;
    }
    return n;
  }

  // ------------------------------------------------------------ levels

  onLevels(levels) {
    const now = performance.now();
    for (const l of levels) {
      if (l.level <= SPEAKING_LEVEL) this.speaking.set(l.participant, { level: l.level, at: now });
    }
    this.changed();
  }

  /** The loudest participant heard in the last moment, or null. */
  activeSpeaker() {
    const now = performance.now();
    let best = null;
    for (const [participant, s] of this.speaking) {
      if (now - s.at > SPEAKING_HOLD_MS) continue;
      if (!best || s.level < best.level) best = { participant, level: s.level };
    }
    return best ? best.participant : null;
  }

  isSpeaking(participant) {
    const s = this.speaking.get(participant);
    return Boolean(s && performance.now() - s.at <= SPEAKING_HOLD_MS);
  }
}
