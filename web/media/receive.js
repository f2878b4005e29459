// Decoding of one subscribed track, transport-agnostic (client.js feeds it
// frames from streams and datagrams; loopback.js straight from a publisher).
//
// VideoReceiver: a VideoDecoder configured from the TrackConfig with
// `optimizeForLatency: true`. Decoding starts at a keyframe only: delta frames
// are dropped until one arrives, and while waiting for one longer than 1 s a
// KeyframeRequest is sent (at most one a second). A decode error resets the
// decoder and waits for (and requests) the next keyframe. Frames of a group
// older than the newest group started are stale and skipped (PROTOCOL §4.4).
// Small reorder buffer: when a newer group's keyframe arrives while the current
// group's stream is still open, the newer group is held for up to `reorderMs`
// (or until the older stream ends), so the older group's tail still decodes in
// order instead of being cut off. Decoded frames are drawn on the attached
// canvas (sized to the picture).
//
// AudioReceiver: an AudioDecoder (Opus). Datagrams may be reordered or lost:
// frames older than the newest decoded one are dropped (late), gaps are counted
// (lost) and concealed by the jitter buffer in audio-worklet.js. A redundant
// datagram's copy of the frame before it fills the gap its lost datagram left
// (counted as recovered) and is ignored otherwise.
//
// Both record capture→decoded latency (timing.js) when the decoder outputs.
// What the decoder put out over the last second (`recent()`: frames and the
// highest temporal layer among them) shows which layers this subscriber
// really gets, e.g. fewer on a thin link.

import { LatencyStats } from './timing.js';
import { fromBase64 } from './wire.js';
import { av1CodecString } from './publish.js';

// Logs the first 5 errors of a receiver, then every 100th (a broken stream
// would otherwise log once per frame).
function errorLogger(log, prefix) {
  let n = 0;
  return (msg) => {
    n += 1;
    if (n <= 5 || n % 100 === 0) log(`${prefix}: ${msg}${n > 5 ? ` (${n} errors)` : ''}`);
  };
}

/** The WebCodecs decoder config for a video TrackConfig. */
export function videoDecoderConfig(config) {
  const c = {
    codec: config.codec === 'av1' ? av1CodecString(config.width, config.height) : 'vp8',
    codedWidth: config.width,
    codedHeight: config.height,
    optimizeForLatency: true,
  };
  if (config.description) c.description = fromBase64(config.description);
  return c;
}

export class VideoReceiver {
  /**
   * @param {object} o track (global id), config (TrackConfig), clock (ClockSync),
   *   requestKeyframe(track), log, reorderMs (40).
   */
  constructor({ track, config, clock, requestKeyframe, log, reorderMs = 40 }) {
    this.kind = 'video';
    this.track = track;
    this.config = config;
    this.clock = clock;
    this.sendKeyframeRequest = requestKeyframe || (() => {});
    this.log = log || (() => {});
    this.logError = errorLogger(this.log, `video track ${track}`);
    this.reorderMs = reorderMs;
    this.latency = new LatencyStats();
    this.stats = {
      track, kind: 'video', codec: config.codec, width: 0, height: 0,
      framesReceived: 0, framesDecoded: 0, framesDecodedByLayer: [0, 0, 0], framesDropped: 0, framesStale: 0, framesReordered: 0,
      bytes: 0, keyframes: 0, keyframeRequests: 0, decodeErrors: 0, groups: 0, groupsReset: 0,
    };
    this.current = -1; // the newest group being decoded
    this.open = new Set(); // groups whose stream is still open
    this.pending = null; // {group, frames: [{header, payload}], timer}: a held newer group
    this.waitingKey = true;
    this.waitSince = performance.now();
    this.lastKeyRequest = -Infinity;
    this.canvas = null;
    this.ctx2d = null;
    this.onDecoded = null; // optional hook(frame) before the frame is closed
    this.layerOf = new Map(); // timestamp → temporal layer of a chunk in the decoder
    this.decodedAt = []; // {at, layer} of the frames output in the last second
    this.closed = false;
    this.decoder = null;
    this.timer = setInterval(() => this.tick(), 250);
  }

  /** Draw decoded frames on this canvas (null to stop). */
  attach(canvas) {
    this.canvas = canvas;
    this.ctx2d = canvas ? canvas.getContext('2d') : null;
  }

  /** A stream of group `group` was opened. */
  groupOpened(group) {
    this.open.add(group);
    this.stats.groups += 1;
  }

  /** The stream of group `group` ended (finished, or reset when `reset`). */
  groupEnded(group, reset) {
    this.open.delete(group);
    if (reset) this.stats.groupsReset += 1;
    if (group === this.current) {
      if (reset) this.waitForKeyframe(false); // the rest of the group is gone
      this.flushPending();
    }
  }

  /** One received frame ({track, group, sequence, timestamp, keyframe, layer}, payload). */
  frame(header, payload) {
    if (this.closed) return;
    const s = this.stats;
    s.framesReceived += 1;
    s.bytes += payload.length;
    if (header.keyframe) s.keyframes += 1;
    const g = header.group;
    if (g < this.current) {
      s.framesStale += 1;
      return;
    }
    if (g === this.current) {
      this.decode(header, payload);
      return;
    }
    // A newer group than the one being decoded.
    if (this.pending && g === this.pending.group) {
      this.pending.frames.push({ header, payload });
      return;
    }
    if (!header.keyframe) {
      s.framesDropped += 1; // its keyframe was dropped (or held and superseded)
      return;
    }
    if (!this.waitingKey && this.open.has(this.current) && this.reorderMs > 0) {
      if (this.pending) s.framesDropped += this.pending.frames.length;
      this.hold(g, { header, payload });
      return;
    }
    this.startGroup(g, [{ header, payload }]);
  }

  hold(group, frame) {
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = { group, frames: [frame], timer: setTimeout(() => this.flushPending(), this.reorderMs) };
    this.stats.framesReordered += 1;
  }

  flushPending() {
    const p = this.pending;
    if (!p) return;
    clearTimeout(p.timer);
    this.pending = null;
    if (p.group > this.current) this.startGroup(p.group, p.frames);
  }

  startGroup(group, frames) {
    this.current = group;
    for (const f of frames) this.decode(f.header, f.payload);
  }

  decode(header, payload) {
    const s = this.stats;
    if (this.waitingKey && !header.keyframe) {
      s.framesDropped += 1;
      return;
    }
    if (!this.decoder || this.decoder.state === 'closed') {
      if (!header.keyframe) {
        s.framesDropped += 1;
        return;
      }
      if (!this.makeDecoder()) return;
    }
    if (!header.keyframe && this.decoder.decodeQueueSize > 16) {
      s.framesDropped += 1; // the decoder cannot keep up: skip to the next keyframe
      this.waitForKeyframe(true);
      return;
    }
    try {
      this.decoder.decode(new EncodedVideoChunk({
        type: header.keyframe ? 'key' : 'delta', timestamp: header.timestamp, data: payload,
      }));
      if (this.layerOf.size > 64) this.layerOf.clear(); // outputs the decoder never gave
      this.layerOf.set(header.timestamp, header.layer || 0);
      if (header.keyframe) this.waitingKey = false;
    } catch (e) {
      s.decodeErrors += 1;
      this.logError(`decode failed: ${e.message}`);
      this.resetDecoder();
    }
  }

  makeDecoder() {
    try {
      this.decoder = new VideoDecoder({
        output: (frame) => this.onOutput(frame),
        error: (e) => {
          this.stats.decodeErrors += 1;
          this.logError(`decoder error: ${e.message}`);
          this.waitForKeyframe(true);
        },
      });
      this.decoder.configure(videoDecoderConfig(this.config));
      return true;
    } catch (e) {
      this.stats.decodeErrors += 1;
      this.logError(`cannot decode ${this.config.codec}: ${e.message}`);
      this.decoder = null;
      return false;
    }
  }

  resetDecoder() {
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = null;
    this.waitForKeyframe(true);
  }

  // Drop deltas until the next keyframe; `now`: ask for one at once (throttled).
  waitForKeyframe(now) {
    if (!this.waitingKey) {
      this.waitingKey = true;
      this.waitSince = performance.now();
    }
    if (now) this.maybeRequestKeyframe(true);
  }

  maybeRequestKeyframe(immediate) {
    const t = performance.now();
    if (!this.waitingKey || this.closed) return;
    if (!immediate && t - this.waitSince < 1000) return;
    if (t - this.lastKeyRequest < 1000) return;
    this.lastKeyRequest = t;
    this.stats.keyframeRequests += 1;
    this.sendKeyframeRequest(this.track);
  }

  tick() {
    this.maybeRequestKeyframe(false);
  }

  onOutput(frame) {
    const s = this.stats;
    s.framesDecoded += 1;
    this.latency.add(this.clock.nowMs() - frame.timestamp / 1000);
    const layer = this.layerOf.get(frame.timestamp) ?? 0;
    s.framesDecodedByLayer[Math.min(layer, 2)] += 1;
    this.decodedAt.push({ at: performance.now(), layer });
    this.layerOf.delete(frame.timestamp);
    if (this.decodedAt.length > 120) this.decodedAt.shift();
    s.width = frame.displayWidth;
    s.height = frame.displayHeight;
    try {
      if (this.ctx2d) {
        const c = this.canvas;
        if (c.width !== frame.displayWidth || c.height !== frame.displayHeight) {
          c.width = frame.displayWidth;
          c.height = frame.displayHeight;
        }
        this.ctx2d.drawImage(frame, 0, 0);
      }
      if (this.onDecoded) this.onDecoded(frame);
    } finally {
      frame.close();
    }
  }

  /** Frames decoded in the last second and the highest temporal layer among them (-1: none). */
  recent() {
    const since = performance.now() - 1000;
    while (this.decodedAt.length && this.decodedAt[0].at < since) this.decodedAt.shift();
    return { fps: this.decodedAt.length, layer: this.decodedAt.reduce((m, f) => Math.max(m, f.layer), -1) };
  }

  snapshot() {
    return { ...this.stats, framesDecodedByLayer: [...this.stats.framesDecodedByLayer], waitingKeyframe: this.waitingKey, latency: this.latency.summary(), recent: this.recent() };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = null;
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
  }
}

export class AudioReceiver {
  /** @param {object} o track (global id), config (TrackConfig), clock (ClockSync), log. */
  constructor({ track, config, clock, log }) {
    this.kind = 'audio';
    this.track = track;
    this.config = config;
    this.clock = clock;
    this.log = log || (() => {});
    this.logError = errorLogger(this.log, `audio track ${track}`);
    this.latency = new LatencyStats();
    this.stats = {
      track, kind: 'audio', codec: 'opus', channels: config.channels,
      audioFramesReceived: 0, audioFramesDecoded: 0, audioFramesLost: 0, audioFramesLate: 0,
      audioFramesRecovered: 0,
      bytes: 0, decodeErrors: 0,
    };
    this.lastSequence = -1;
    this.inFlight = []; // header timestamps of the packets being decoded, in order
    this.player = null;
    this.closed = false;
    this.makeDecoder();
  }

  makeDecoder() {
    this.decoder = new AudioDecoder({
      output: (data) => this.onOutput(data),
      error: (e) => {
        this.stats.decodeErrors += 1;
        this.inFlight = [];
        this.logError(`decoder error: ${e.message}`);
      },
    });
    this.decoder.configure({ codec: 'opus', sampleRate: this.config.sample_rate, numberOfChannels: this.config.channels });
  }

  /** Play decoded audio through this AudioPlayer (null to stop). */
  attach(player) {
    this.player?.close();
    this.player = player;
  }

  /**
   * An Opus frame; `copy`: the copy of an earlier frame that a redundant
   * datagram carries (ignored unless its own datagram was lost).
   */
  frame(header, payload, copy = false) {
    if (this.closed) return;
    const s = this.stats;
    if (copy) {
      if (this.lastSequence >= 0 && header.sequence <= this.lastSequence) return;
      s.audioFramesRecovered += 1;
    }
    s.audioFramesReceived += 1;
    s.bytes += payload.length;
    if (this.lastSequence >= 0) {
      if (header.sequence <= this.lastSequence) {
        s.audioFramesLate += 1;
        return;
      }
      s.audioFramesLost += Math.min(header.sequence - this.lastSequence - 1, 1000);
    }
    this.lastSequence = header.sequence;
    if (this.decoder.state === 'closed') this.makeDecoder();
    try {
      this.decoder.decode(new EncodedAudioChunk({ type: 'key', timestamp: header.timestamp, data: payload }));
      this.inFlight.push(header.timestamp);
      if (this.inFlight.length > 50) this.inFlight.shift();
    } catch (e) {
      s.decodeErrors += 1;
      this.logError(`decode failed: ${e.message}`);
    }
  }

  // Chromium's AudioDecoder stamps its outputs by counting samples from the
  // first packet, so after a lost packet they drift from the packets' own
  // timestamps: latency uses the packet's timestamp (one output per Opus packet).
  onOutput(data) {
    this.stats.audioFramesDecoded += 1;
    const ts = this.inFlight.length ? this.inFlight.shift() : data.timestamp;
    this.latency.add(this.clock.nowMs() - ts / 1000);
    try {
      this.player?.push(data);
    } finally {
      data.close();
    }
  }

  snapshot() {
    return { ...this.stats, latency: this.latency.summary(), playback: this.player ? { ...this.player.stats } : null };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.player?.close();
    this.player = null;
    if (this.decoder.state !== 'closed') this.decoder.close();
  }
}
