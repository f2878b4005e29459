// MediaClient: the browser end of Podium's SFU over WebTransport, or over a
// WebSocket on the app's origin when WebTransport is missing or blocked
// (ws-transport.js; protocol v1, media/PROTOCOL.md). It owns the session: the client-opened control stream
// (Hello → Welcome, then every control message), pings for RTT and the clock
// offset, publishing (publish.js encoders → send.js: one unidirectional stream
// per video group, audio datagrams with the stream fallback), subscribing (incoming
// streams and datagrams → receive.js decoders → canvas / AudioWorklet), and
// per-track statistics. Reconnecting is the app's job: the client surfaces the
// close code and reason (PROTOCOL §6) and stays closed.
//
//   const client = new MediaClient({ log: console.log });
//   client.addEventListener('trackadded', (e) => client.subscribe(e.detail.track));
//   await client.connect({ url, token, certHashes });
//   await client.publishCamera(stream);
//
// Events (CustomEvent, data in `detail`):
//   state        {state}                     'connecting' | 'connected' | 'closed'
//   welcome      {participant, room, mayPublish}
//   trackadded   {track, participant, config}
//   trackremoved {track, participant}         a subscribable track went away
//   roster       {participants}               the full list (replaces the last)
//   permission   {mayPublish, room}
//   published    {trackId, track, config}     one of ours is live (global id `track`)
//   unpublished  {trackId, track, reason}     one of ours stopped (by us or the server)
//   levels       {levels}                     AudioLevels: [{track, participant, level}]
//   servererror  {code, reason}               a refused request (the session stays open)
//   rtt          {rttMs, offsetMs}            after every Pong
//   close        {code, reason, meaning}      code null when the connection failed
//                                             without a WebTransport close code

import * as W from './wire.js';
import { ClockSync, wallMs } from './timing.js';
import { VideoPublisher, AudioPublisher } from './publish.js';
import { captureMethod } from './capture.js';
import { VideoReceiver, AudioReceiver } from './receive.js';
import { AudioOutput } from './audio-out.js';
import { VideoSender, AudioSender, AUDIO_SEND_ORDER } from './send.js';
import { WebSocketTransport } from './ws-transport.js';

const PUBLISH_ERRORS = new Set(['not_allowed_to_publish', 'invalid_track_config', 'duplicate_track', 'too_many_tracks', 'invalid_simulcast', 'unknown_client_track']);

export class MediaClient extends EventTarget {
  /**
   * @param {object} [o]
   * @param {(msg: string) => void} [o.log]  diagnostics
   * @param {number} [o.pingIntervalMs=2000]
   * @param {number} [o.reorderMs=40]         video reorder hold (receive.js)
   * @param {number} [o.jitterMs=60]          audio jitter buffer target
   * @param {number} [o.datagramLimit=1200]   largest audio datagram to send (tests
   *   lower it to exercise the audio stream fallback)
   */
  constructor({ log, pingIntervalMs = 2000, reorderMs = 40, jitterMs = 60, datagramLimit = W.MAX_DATAGRAM_SIZE } = {}) {
    super();
    this.log = log || (() => {});
    this.options = { pingIntervalMs, reorderMs, datagramLimit: Math.min(datagramLimit, W.MAX_DATAGRAM_SIZE) };
    this.state = 'new';
    this.transport = null; // 'webtransport' | 'websocket' once connecting
    this.fallback = null; // why not WebTransport: 'missing' | 'timeout' | 'failed' | 'chosen'
    this.closeCode = null;
    this.closeReason = '';
    this.participant = null;
    this.room = null;
    this.mayPublish = false;
    this.roster = [];
    this.tracks = new Map(); // global id → {track, participant, config}: subscribable tracks
    this.levels = new Map(); // global id → latest level (0 loud … 127 silent)
    this.publications = new Map(); // client track id → publication
    this.receivers = new Map(); // global id → VideoReceiver | AudioReceiver
    this.clock = new ClockSync();
    this.audioOut = new AudioOutput({ targetMs: jitterMs });
    this.nextTrackId = 1;
    this.nonce = 0;
    this.pings = new Map(); // nonce → sent (local wall ms)
    this.pendingPublishes = []; // publications waiting for Published/Error, oldest first
    this.features = { sendOrder: null, maxDatagramSize: null, datagramWriter: null };
    this.counters = {
      datagramsSent: 0, datagramsDropped: 0, datagramsReceived: 0, audioStreamFramesSent: 0, badDatagrams: 0,
      streamsOpened: 0, streamsReceived: 0, streamsReset: 0, badStreams: 0, unknownStreams: 0,
      videoGroupsReset: 0, framesDroppedCongestion: 0,
    };
  }

  /**
   * What this browser can do: {receive, publish, missing: [API names]}.
   * Receiving needs VideoDecoder, AudioDecoder and AudioWorklet (WebTransport
   * or, without it, a WebSocket carries the media); publishing also
   * VideoEncoder, AudioEncoder and a way to capture (MediaStreamTrackProcessor,
   * or capture.js's fallback from VideoFrame and AudioData: Firefox).
   * Browsers lacking some get a clear message.
   */
  static support() {
    const has = (name) => typeof globalThis[name] === 'function';
    // WebTransport is not needed: without it media goes over the WebSocket.
    const receive = ['VideoDecoder', 'AudioDecoder', 'AudioWorkletNode'];
    const publish = ['VideoEncoder', 'AudioEncoder', ...(has('MediaStreamTrackProcessor') ? [] : ['VideoFrame', 'AudioData'])];
    const missing = [...receive, ...publish].filter((n) => !has(n));
    return {
      receive: receive.every(has),
      publish: receive.every(has) && publish.every(has) && captureMethod() !== null,
      missing,
    };
  }

  // ------------------------------------------------------------ session

  /**
   * Opens the session, waits for Welcome. Transport: WebTransport when the
   * browser has it and it connects within `wtTimeoutMs`; otherwise (missing,
   * failing or timing out — e.g. UDP blocked) the WebSocket at `wsUrl` on the
   * app's own origin (PROTOCOL.md §8), with the same token. `transport` and
   * `fallback` ('missing' | 'timeout' | 'failed' | 'chosen' | null) say what
   * happened.
   * @param {object} o url (https://host:port/...), token (join token),
   *   certHashes (base64 SHA-256 strings of the server certificate, or null when
   *   the certificate is trusted), wsUrl (ws(s)://… or null: no fallback),
   *   prefer ('websocket' skips WebTransport), wtTimeoutMs (default 3500)
   * @returns {Promise<{participant, room, mayPublish}>}
   */
  async connect({ url, token, certHashes = null, wsUrl = null, prefer = null, wtTimeoutMs = 3500 }) {
    if (this.state !== 'new') throw new Error(`connect() on a ${this.state} client`);
    this.setState('connecting');
    this.fallback = null;
    if (prefer === 'websocket' && wsUrl) {
      this.fallback = 'chosen';
    } else if (typeof WebTransport !== 'function') {
      if (!wsUrl) {
        this.finish(null, 'this browser has no WebTransport');
        throw new Error('this browser has no WebTransport');
      }
      this.fallback = 'missing';
    } else {
      let wt;
      try {
        wt = await this.openWebTransport(url, certHashes, wtTimeoutMs);
      } catch (e) {
        if (!wsUrl) {
          this.finish(null, `cannot open WebTransport: ${e.message}`);
          throw e;
        }
        this.fallback = e.timedOut ? 'timeout' : 'failed';
        this.log(`WebTransport ${this.fallback === 'timeout' ? `did not connect within ${wtTimeoutMs} ms` : `failed: ${e.message}`}; using the WebSocket`);
      }
      if (this.state === 'closed') {
        // Closed by the app while WebTransport was trying.
        try {
          wt?.close();
        } catch {
          // never opened
        }
        throw new Error('the client was closed while connecting');
      }
      if (wt) return this.start(wt, 'webtransport', token);
    }
    let ws;
    try {
      ws = new WebSocketTransport(wsUrl);
    } catch (e) {
      this.finish(null, `cannot open the WebSocket: ${e.message}`);
      throw e;
    }
    return this.start(ws, 'websocket', token);
  }

  // Resolves with a ready WebTransport, or rejects (err.timedOut on a timeout).
  async openWebTransport(url, certHashes, timeoutMs) {
    const options = {};
    if (certHashes && certHashes.length) {
      options.serverCertificateHashes = certHashes.map((h) => ({ algorithm: 'sha-256', value: W.fromBase64(h.trim()) }));
    }
    const wt = new WebTransport(url, options);
    wt.closed.catch(() => {});
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { timedOut: true })), timeoutMs);
    });
    try {
      await Promise.race([wt.ready, timeout]);
      return wt;
    } catch (e) {
      try {
        wt.close();
      } catch {
        // never opened
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  // Control stream, Hello, Welcome over a ready (or opening) transport.
  async start(transport, kind, token) {
    this.wt = transport;
    this.transport = kind;
    this.wt.closed.then(
      (info) => this.finish(info?.closeCode ?? 0, info?.reason ?? ''),
      (e) => this.finish(e?.sessionErrorCode ?? null, e?.message || String(e)),
    );
    const welcome = new Promise((resolve, reject) => {
      this.welcomeWaiter = { resolve, reject };
    });
    welcome.catch(() => {}); // a failure before it is awaited is thrown below instead
    try {
      await this.wt.ready;
      const bidi = await this.wt.createBidirectionalStream();
      this.ctlWriter = bidi.writable.getWriter();
      this.readControl(bidi.readable.getReader());
      this.helloSentAt = wallMs();
      this.send(W.C.Hello, { version: W.PROTOCOL_VERSION, token });
      this.welcomeTimer = setTimeout(() => this.fail(1, 'no Welcome within 10 s'), 10_000);
      return await welcome;
    } catch (e) {
      if (this.state !== 'closed') this.close(1, e.message);
      throw e;
    }
  }

  /** Leaves the session (close code 0 by default). */
  close(code = 0, reason = '') {
    if (this.state === 'closed') return;
    try {
      this.wt?.close({ closeCode: code, reason });
    } catch {
      // already closing
    }
    this.finish(code, reason);
  }

  /** Resumes audio playback; call it from a user gesture (autoplay policy). */
  resumeAudio() {
    return this.audioOut.resume();
  }

  setState(state) {
    this.state = state;
    this.emit('state', { state });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // A protocol error on our side of the reading: close with code 1.
  fail(code, reason) {
    this.log(`closing: ${reason}`);
    this.close(code, reason.slice(0, 1000));
  }

  // Tears everything down once; idempotent.
  finish(code, reason) {
    if (this.state === 'closed') return;
    this.closeCode = code;
    this.closeReason = reason || '';
    clearTimeout(this.welcomeTimer);
    clearInterval(this.pingTimer);
    for (const p of this.publications.values()) this.stopPublication(p);
    for (const r of this.receivers.values()) r.close();
    this.receivers.clear();
    for (const p of this.pendingPublishes) p.reject(new Error(`session closed: ${this.closeReason}`));
    this.pendingPublishes = [];
    this.audioOut.close();
    this.welcomeWaiter?.reject(new Error(`session closed (${code ?? 'no code'}): ${this.closeReason}`));
    this.setState('closed');
    this.emit('close', { code, reason: this.closeReason, meaning: code === null ? 'connection failed or lost' : (W.CLOSE_CODES[code] || 'unknown') });
  }

  send(type, body) {
    if (!this.ctlWriter || this.state === 'closed') return;
    this.ctlWriter.write(W.encodeControl(type, body)).catch((e) => this.log(`control write failed: ${e.message}`));
  }

  async readControl(reader) {
    const decoder = new W.ControlReader('server');
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        decoder.push(value);
        for (let m = decoder.next(); m; m = decoder.next()) this.onMessage(m);
      }
      decoder.finish();
      if (this.state !== 'closed') this.fail(1, 'truncated: the server ended the control stream');
    } catch (e) {
      if (e instanceof W.WireError) this.fail(e.code === 'unsupported_version' ? 2 : 1, e.message);
      else if (this.state !== 'closed') this.log(`control stream: ${e.message}`);
    }
  }

  onMessage({ type, name, body }) {
    if (this.state === 'connecting' && type !== W.S.Welcome) {
      throw new W.WireError('invalid_body', `${name} before Welcome`);
    }
    switch (type) {
      case W.S.Welcome: return this.onWelcome(body);
      case W.S.TrackAdded: return this.onTrackAdded(body);
      case W.S.TrackRemoved: return this.onTrackRemoved(body);
      case W.S.Roster:
        this.roster = body.participants;
        return this.emit('roster', { participants: body.participants });
      case W.S.Permission: return this.onPermission(body);
      case W.S.RequestKeyframe:
        return this.publications.get(body.track_id)?.pub.requestKeyframe?.();
      case W.S.AudioLevels:
        for (const l of body.levels) this.levels.set(l.track, l.level);
        return this.emit('levels', { levels: body.levels });
      case W.S.Error: return this.onServerError(body);
      case W.S.Pong: return this.onPong(body);
      case W.S.Published: return this.onPublished(body);
      case W.S.TrackWanted:
        return this.publications.get(body.track_id)?.pub.setWanted?.(body.wanted);
      default: return undefined;
    }
  }

  onWelcome(body) {
    if (this.state !== 'connecting') throw new W.WireError('invalid_body', 'a second Welcome');
    clearTimeout(this.welcomeTimer);
    this.clock.sample(this.helloSentAt, wallMs(), body.server_time);
    this.participant = body.participant;
    this.room = body.room;
    this.mayPublish = body.may_publish;
    const dg = this.wt.datagrams;
    this.features.maxDatagramSize = dg.maxDatagramSize ?? null;
    this.maxDatagram = Math.min(this.options.datagramLimit, dg.maxDatagramSize || W.MAX_DATAGRAM_SIZE);
    if (typeof dg.createWritable === 'function') {
      this.dgWriter = dg.createWritable({ sendOrder: AUDIO_SEND_ORDER }).getWriter();
      this.features.datagramWriter = 'createWritable';
    } else {
      this.dgWriter = dg.writable.getWriter();
      this.features.datagramWriter = 'writable';
    }
    this.setState('connected');
    this.readDatagrams();
    this.readStreams();
    // A quick burst of pings for a first clock estimate, then one every interval.
    for (const ms of [0, 100, 250]) setTimeout(() => this.ping(), ms);
    this.pingTimer = setInterval(() => this.ping(), this.options.pingIntervalMs);
    const info = { participant: body.participant, room: body.room, mayPublish: body.may_publish };
    this.emit('welcome', info);
    this.welcomeWaiter.resolve(info);
    this.welcomeWaiter = null;
  }

  ping() {
    if (this.state !== 'connected') return;
    this.nonce += 1;
    this.pings.set(this.nonce, wallMs());
    if (this.pings.size > 32) this.pings.delete(this.pings.keys().next().value);
    this.send(W.C.Ping, { nonce: this.nonce });
  }

  onPong({ nonce, server_time: serverTime }) {
    const sent = this.pings.get(nonce);
    if (sent === undefined) return;
    this.pings.delete(nonce);
    this.clock.sample(sent, wallMs(), serverTime);
    this.emit('rtt', { rttMs: this.clock.rttMs, offsetMs: this.clock.offsetMs });
  }

  onTrackAdded({ track, participant, config }) {
    const info = { track, participant, config };
    this.tracks.set(track, info);
    this.emit('trackadded', info);
  }

  onTrackRemoved({ track, participant }) {
    if (participant === this.participant) {
      // The server removed one of our tracks: stop sending it.
      for (const p of this.publications.values()) {
        if (p.track === track) this.endPublication(p, 'removed by the server');
      }
      return;
    }
    this.tracks.delete(track);
    this.levels.delete(track);
    this.receivers.get(track)?.close();
    this.receivers.delete(track);
    this.emit('trackremoved', { track, participant });
  }

  onPermission({ may_publish: mayPublish, room }) {
    this.mayPublish = mayPublish;
    this.room = room;
    if (!mayPublish) {
      for (const p of this.publications.values()) this.endPublication(p, 'permission withdrawn');
    }
    this.emit('permission', { mayPublish, room });
  }

  onServerError({ code, reason }) {
    this.log(`server refused a request: ${code}: ${reason}`);
    // Errors carry no track id; they answer requests in order, so a publish
    // error belongs to the oldest Publish still waiting.
    if (PUBLISH_ERRORS.has(code) && this.pendingPublishes.length) {
      const p = this.pendingPublishes.shift();
      p.reject(Object.assign(new Error(`${code}: ${reason}`), { code }));
    }
    this.emit('servererror', { code, reason });
  }

  onPublished({ track_id: trackId, track }) {
    const p = this.publications.get(trackId);
    if (!p) return;
    this.pendingPublishes = this.pendingPublishes.filter((q) => q !== p);
    p.track = track;
    p.live = true;
    p.pub.requestKeyframe?.(); // frames were dropped until now: start with a fresh group
    p.resolve({ trackId, track, config: p.config });
    if (p.small) return; // a camera's small quality: not a track of its own for the app
    this.emit('published', { trackId, track, config: p.config });
    if (p.pub.small) this.publishSmall(p).catch((e) => this.log(`track ${trackId}: small quality not published: ${e.message}`));
  }

  // Publishes a camera's small quality (publish.js SmallEncoding) linked to
  // it (`simulcast_of`): the server forwards one of the two to each
  // subscriber. It lives and ends with the camera.
  async publishSmall(camera) {
    const enc = camera.pub.small;
    const trackId = this.nextTrackId++;
    enc.trackId = trackId;
    const q = { trackId, source: 'camera', small: true, track: null, live: false, config: null, pub: enc };
    q.sender = new VideoSender({ wt: this.wt, trackId, counters: this.counters, log: this.log, features: this.features, requestKeyframe: () => enc.requestKeyframe() });
    enc.onFrame = (_enc, h, payload) => this.sendFrame(q, h, payload);
    camera.smallPub = q;
    this.publications.set(trackId, q);
    const published = new Promise((resolve, reject) => {
      q.resolve = resolve;
      q.reject = reject;
    });
    published.catch(() => {});
    let timer;
    try {
      q.config = await enc.configured;
      if (this.state !== 'connected' || !this.publications.has(trackId) || !camera.live) throw new Error('the session or camera ended');
      this.pendingPublishes.push(q);
      this.send(W.C.Publish, { track_id: trackId, config: q.config, simulcast_of: camera.trackId });
      timer = setTimeout(() => q.reject(new Error('no answer to Publish within 10 s')), 10_000);
      return await published;
    } catch (e) {
      this.stopPublication(q);
      this.publications.delete(trackId);
      if (camera.smallPub === q) camera.smallPub = null;
      this.pendingPublishes = this.pendingPublishes.filter((x) => x !== q);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  // ------------------------------------------------------------ publishing

  /** Publishes the first video track of `stream` as a camera (640x360, ≤30 fps, ~500 kbps). */
  publishCamera(stream, options) {
    return this.publishTrack(stream.getVideoTracks()[0], 'camera', options);
  }

  /** Publishes the first audio track of `stream` (Opus, 48 kHz, 20 ms). */
  publishMicrophone(stream, options) {
    return this.publishTrack(stream.getAudioTracks()[0], 'microphone', options);
  }

  /** Publishes the first video track of `stream` as a screen share (1280x720, ≤15 fps, ~1 Mbps). */
  publishScreen(stream, options) {
    return this.publishTrack(stream.getVideoTracks()[0], 'screen', options);
  }

  /**
   * Starts capture and encoding, sends Publish, resolves at Published with
   * {trackId, track, config}; rejects on a refusing Error (err.code).
   */
  async publishTrack(mediaTrack, source, options = {}) {
    if (this.state !== 'connected') throw new Error(`cannot publish: the client is ${this.state}`);
    if (!mediaTrack) throw new Error(`no ${source === 'microphone' ? 'audio' : 'video'} track to publish`);
    if (!MediaClient.support().publish) {
      throw new Error(`this browser cannot publish (missing: ${MediaClient.support().missing.join(', ')})`);
    }
    if (!this.mayPublish) throw Object.assign(new Error('not_allowed_to_publish: not in this room'), { code: 'not_allowed_to_publish' });
    const trackId = this.nextTrackId++;
    const p = { trackId, source, track: null, live: false, config: null };
    const common = { trackId, track: mediaTrack, clock: this.clock, log: this.log, options, onFrame: (_pub, h, payload) => this.sendFrame(p, h, payload) };
    const base = { wt: this.wt, trackId, counters: this.counters, log: this.log };
    if (mediaTrack.kind === 'video') {
      p.pub = new VideoPublisher({ ...common, source });
      p.sender = new VideoSender({ ...base, features: this.features, requestKeyframe: () => p.pub.requestKeyframe() });
    } else {
      p.pub = new AudioPublisher(common);
      p.sender = new AudioSender({
        ...base, dgWriter: this.dgWriter, maxDatagram: this.maxDatagram,
        // QUIC may lose a datagram; a WebSocket never does.
        redundancy: this.transport === 'webtransport',
      });
    }
    this.publications.set(trackId, p);
    const published = new Promise((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
    });
    published.catch(() => {}); // may settle before it is awaited below
    let timer;
    try {
      p.config = await p.pub.start();
      if (this.state !== 'connected' || !this.publications.has(trackId)) throw new Error('the session or track ended');
      this.pendingPublishes.push(p);
      this.send(W.C.Publish, { track_id: trackId, config: p.config });
      timer = setTimeout(() => {
        this.send(W.C.Unpublish, { track_id: trackId }); // in case it comes late
        p.reject(new Error('no answer to Publish within 10 s'));
      }, 10_000);
      return await published;
    } catch (e) {
      this.stopPublication(p);
      this.publications.delete(trackId);
      this.pendingPublishes = this.pendingPublishes.filter((q) => q !== p);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Withdraws one of our tracks (client track id). */
  unpublish(trackId) {
    const p = this.publications.get(trackId);
    if (!p) return;
    if (p.live || this.pendingPublishes.includes(p)) this.send(W.C.Unpublish, { track_id: trackId });
    this.endPublication(p, 'unpublished');
  }

  /**
   * Mute = stop sending frames but keep the track published (see publish.js);
   * unmuting video restarts at a keyframe.
   */
  setMuted(trackId, muted) {
    this.publications.get(trackId)?.pub.setMuted(muted);
  }

  endPublication(p, reason) {
    this.stopPublication(p);
    this.publications.delete(p.trackId);
    p.reject?.(new Error(reason));
    if (p.smallPub) {
      this.endPublication(p.smallPub, reason);
      p.smallPub = null;
    }
    if (!p.small) this.emit('unpublished', { trackId: p.trackId, track: p.track, reason });
  }

  stopPublication(p) {
    p.live = false;
    p.pub.stop();
    p.sender.close();
  }

  // The publishers' sink: returns true when the frame was handed to the transport.
  sendFrame(p, header, payload) {
    if (!p.live || this.state !== 'connected') return false;
    return p.sender.send(header, payload);
  }

  // ------------------------------------------------------------ subscribing

  /** Subscribes to a track announced by TrackAdded (harmless twice). */
  subscribe(track) {
    const info = this.tracks.get(track);
    if (!info) throw new Error(`unknown track ${track}`);
    if (!this.receivers.has(track)) {
      const common = { track, config: info.config, clock: this.clock, log: this.log };
      const r = info.config.kind === 'video'
        ? new VideoReceiver({ ...common, reorderMs: this.options.reorderMs, requestKeyframe: (t) => this.requestKeyframe(t) })
        : new AudioReceiver(common);
      r.participant = info.participant;
      this.receivers.set(track, r);
    }
    this.send(W.C.Subscribe, { track });
    return this.receivers.get(track);
  }

  unsubscribe(track) {
    const r = this.receivers.get(track);
    if (!r) return;
    this.send(W.C.Unsubscribe, { track });
    r.close();
    this.receivers.delete(track);
  }

  /**
   * Tells the server how tall (device pixels; 0 = not shown) a subscribed
   * video track is shown: a camera with a small quality is sent that one
   * when it is enough (PROTOCOL.md §3.2 ViewSize). Repeats are not sent.
   */
  setViewSize(track, maxHeight) {
    const r = this.receivers.get(track);
    const h = Math.max(0, Math.min(8192, Math.round(maxHeight)));
    if (!r || r.kind !== 'video' || r.viewHeight === h) return;
    r.viewHeight = h;
    this.send(W.C.ViewSize, { track, max_height: h });
  }

  /** Receive temporal layers 0..=maxLayer only (0, 1 or 2). */
  setLayerPreference(track, maxLayer) {
    this.send(W.C.LayerPreference, { track, max_temporal_layer: maxLayer });
  }

  /** Asks the publisher of a subscribed video track for a keyframe. */
  requestKeyframe(track) {
    this.send(W.C.KeyframeRequest, { track });
  }

  /** Draws a video track on `canvas` (subscribing if needed); returns detach(). */
  attachVideo(track, canvas) {
    const r = this.receivers.get(track) || this.subscribe(track);
    if (r.kind !== 'video') throw new Error(`track ${track} is not video`);
    r.attach(canvas);
    return () => r.attach(null);
  }

  /**
   * Plays an audio track (subscribing if needed).
   * @returns {Promise<{setVolume(v: number), detach()}>}
   */
  async attachAudio(track, { volume = 1 } = {}) {
    const r = this.receivers.get(track) || this.subscribe(track);
    if (r.kind !== 'audio') throw new Error(`track ${track} is not audio`);
    const player = await this.audioOut.createPlayer(r.config.channels);
    player.setVolume(volume);
    if (r.closed) {
      player.close();
      throw new Error(`track ${track} went away`);
    }
    r.attach(player);
    return { setVolume: (v) => player.setVolume(v), detach: () => r.player === player && r.attach(null) };
  }

  async readDatagrams() {
    const reader = this.wt.datagrams.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.counters.datagramsReceived += 1;
        let frames;
        try {
          frames = W.decodeDatagramFrames(value);
        } catch (e) {
          this.counters.badDatagrams += 1;
          this.log(`bad datagram: ${e.message}`);
          continue;
        }
        // A redundant datagram's copies come first (oldest first): a copy of
        // a frame that was lost fills its gap before the newer frame decodes.
        for (const { header, payload, copy } of frames) {
          const r = this.receivers.get(header.track);
          if (r && r.kind === 'audio') r.frame(header, payload, copy);
        }
      }
    } catch (e) {
      if (this.state !== 'closed') this.log(`datagrams: ${e.message}`);
    }
  }

  async readStreams() {
    const reader = this.wt.incomingUnidirectionalStreams.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.counters.streamsReceived += 1;
        this.readStream(value);
      }
    } catch (e) {
      if (this.state !== 'closed') this.log(`incoming streams: ${e.message}`);
    }
  }

  // Reads one incoming stream. A malformed stream (a server bug) is dropped and
  // counted; a reset stream is normal (§5.3): the receiver waits for the next group.
  async readStream(stream) {
    const reader = stream.getReader();
    const sr = new W.StreamReader();
    let head = null;
    let r = null;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        sr.push(value);
        if (!head) {
          head = sr.header();
          if (!head) continue;
          r = this.receivers.get(head.track);
          const kind = head.kind === W.STREAM_VIDEO ? 'video' : 'audio';
          if (!r || r.kind !== kind) {
            this.counters.unknownStreams += 1;
            head = null;
            await reader.cancel();
            return;
          }
          if (kind === 'video') r.groupOpened(head.group);
        }
        for (let f = sr.next(); f; f = sr.next()) r.frame(f.header, f.payload);
        if (r.closed) {
          await reader.cancel();
          return;
        }
      }
      sr.finish();
      if (head?.kind === W.STREAM_VIDEO) r.groupEnded(head.group, false);
    } catch (e) {
      if (e instanceof W.WireError) {
        this.counters.badStreams += 1;
        this.log(`bad media stream: ${e.message}`);
        reader.cancel().catch(() => {});
      } else {
        this.counters.streamsReset += 1;
      }
      if (head?.kind === W.STREAM_VIDEO) r.groupEnded(head.group, true);
    }
  }

  // ------------------------------------------------------------ stats

  /**
   * A JSON-able snapshot: session, clock, transport counters, and per track
   * (published: framesSent / audioFramesSent, bytes, keyframes ...; subscribed:
   * framesReceived, framesDecoded / audioFramesReceived, audioFramesDecoded,
   * bytes, keyframes, latency {count, p50, p95, min, max, last} in ms), plus totals.
   */
  stats() {
    // A camera's small quality is reported inside the camera's entry.
    const published = [...this.publications.values()].filter((p) => !p.small).map((p) => ({
      ...p.pub.stats, track: p.track, live: p.live, muted: p.pub.muted,
      ...(p.smallPub ? { small: { ...p.smallPub.pub.stats, trackId: p.smallPub.trackId, track: p.smallPub.track, live: p.smallPub.live } } : {}),
    }));
    const subscribed = [...this.receivers.values()].map((r) => ({ ...r.snapshot(), participant: r.participant }));
    const sum = (list, key) => list.reduce((n, s) => n + (s[key] || 0), 0);
    const video = subscribed.filter((s) => s.kind === 'video');
    const audio = subscribed.filter((s) => s.kind === 'audio');
    return {
      state: this.state,
      transport: this.transport,
      fallback: this.fallback,
      closeCode: this.closeCode,
      closeReason: this.closeReason,
      participant: this.participant,
      room: this.room,
      mayPublish: this.mayPublish,
      rttMs: this.clock.rttMs,
      minRttMs: this.clock.minRttMs,
      clockOffsetMs: this.clock.offsetMs,
      audioContext: this.audioOut.state,
      features: { ...this.features },
      counters: { ...this.counters },
      published,
      subscribed,
      totals: {
        framesSent: sum(published, 'framesSent'),
        audioFramesSent: sum(published, 'audioFramesSent'),
        bytesSent: sum(published, 'bytes'),
        keyframesSent: sum(published, 'keyframes'),
        framesReceived: sum(video, 'framesReceived'),
        framesDecoded: sum(video, 'framesDecoded'),
        keyframesReceived: sum(video, 'keyframes'),
        audioFramesReceived: sum(audio, 'audioFramesReceived'),
        audioFramesDecoded: sum(audio, 'audioFramesDecoded'),
        bytesReceived: sum(subscribed, 'bytes'),
      },
    };
  }

  /** Latency samples (ms, oldest first) of a subscribed track. */
  latencySamples(track) {
    return this.receivers.get(track)?.latency.samples() ?? [];
  }
}
