// Capture + encode for one published track, transport-agnostic.
//
// VideoPublisher: capture (capture.js: MediaStreamTrackProcessor, or in
// Firefox a <video> element sampled at the frame rate) → VideoEncoder (AV1
// L1T3 when `VideoEncoder.isConfigSupported` says so, else VP8 L1T3, else
// plain VP8), realtime latency mode. AudioPublisher: capture
// (MediaStreamTrackProcessor, or an AudioWorklet) → AudioEncoder Opus, mono or
// stereo, 20 ms frames (subscribers decode at 48 kHz).
//
// Each encoded chunk becomes a frame header (PROTOCOL.md §4.1) + payload and is
// handed to `onFrame(publisher, header, payload)`, which returns true when the
// frame was sent (the client's sink drops frames until `Published`, then asks
// for a keyframe). Video: a keyframe opens a new group (group + 1), the temporal
// layer comes from `metadata.svc.temporalLayerId`; audio: group 0, every frame a
// "keyframe". Timestamps are capture times on the shared timeline (timing.js).
//
// Simulcast (cameras): a second encoder (SmallEncoding, 320x180 ~130 kbit/s,
// the same codec and L1T3 where supported) is fed every frame the full one
// takes, scaled down on an OffscreenCanvas; it has its own groups, sequence
// numbers and keyframe requests, and the client publishes it as the camera's
// small quality (`simulcast_of`, PROTOCOL.md §3.2). While the server says
// nobody receives the full quality (TrackWanted false) the full encoder is
// skipped; it resumes with a keyframe. Screen shares stay
// single: their text needs the full size, and a tile that shows one is big.
//
// Mute = stop sending: captured frames are closed without being encoded, so no
// CPU and no bytes are spent, but the track stays published (subscribers keep
// their decoder and see no frames). Unmuting a video track makes the next frame
// a keyframe so subscribers resume at once. Neither mute nor stop() stops the
// MediaStreamTrack: the app owns it.

import { openCapture } from './capture.js';
import { MediaClock } from './timing.js';
import { MAX_DESCRIPTION, toBase64 } from './wire.js';

/** Defaults per source; any field can be overridden by the publish options. */
export const VIDEO_PRESETS = {
  camera: {
    maxWidth: 640, maxHeight: 360, maxFps: 30, bitrate: 500_000, keyframeIntervalMs: 10_000,
    // Simulcast: a second, small encoding of the same frames (SmallEncoding).
    small: { maxWidth: 320, maxHeight: 180, bitrate: 130_000 },
  },
  screen: { maxWidth: 1280, maxHeight: 720, maxFps: 15, bitrate: 1_000_000, keyframeIntervalMs: 10_000 },
};

const bytesOf = (buf) =>
  buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);

/** An AV1 codec string whose level (3.0 or 4.0) admits the picture size. */
export function av1CodecString(width, height) {
  return width * height <= 665_856 ? 'av01.0.04M.08' : 'av01.0.08M.08';
}

/**
 * The first supported video encoder config: AV1 L1T3, VP8 L1T3, VP8.
 * `prefer: 'vp8'` skips AV1. Returns {codec: 'av1'|'vp8', config, layers}.
 */
export async function chooseVideoCodec({ width, height, bitrate, framerate, prefer }) {
  const base = { width, height, bitrate, framerate, latencyMode: 'realtime' };
  const candidates = [
    { codec: 'av1', layers: 3, config: { ...base, codec: av1CodecString(width, height), scalabilityMode: 'L1T3' } },
    { codec: 'vp8', layers: 3, config: { ...base, codec: 'vp8', scalabilityMode: 'L1T3' } },
    { codec: 'vp8', layers: 1, config: { ...base, codec: 'vp8' } },
  ].filter((c) => !prefer || c.codec === prefer);
  for (const c of candidates) {
    try {
      if ((await VideoEncoder.isConfigSupported(c.config)).supported) return c;
    } catch {
      // an unknown option or codec string: try the next one
    }
  }
  throw new Error(`this browser can encode neither AV1 nor VP8${prefer ? ` (asked for ${prefer})` : ''}`);
}

/** Fits a size into a box, keeping the aspect ratio; even dimensions. */
export function fitSize(w, h, maxW, maxH) {
  const scale = Math.min(1, maxW / w, maxH / h);
  const even = (v) => Math.max(2, Math.round((v * scale) / 2) * 2);
  return { width: even(w), height: even(h) };
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Base of both publishers: capture loop, mute, stop, stats. */
class Publisher {
  constructor({ trackId, track, clock, onFrame, log }) {
    this.trackId = trackId;
    this.track = track;
    this.clock = clock;
    this.onFrame = onFrame;
    this.log = log || (() => {});
    this.mediaClock = new MediaClock();
    this.muted = false;
    this.stopped = false;
    this.sequence = 0;
    this.config = null;
    this.reader = null;
    this.encoder = null;
  }

  /** Stop sending frames (true) or resume (false); the track stays published. */
  setMuted(muted) {
    this.muted = Boolean(muted);
  }

  /** Stops capture and encoding (the MediaStreamTrack itself keeps running). */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.reader?.cancel().catch(() => {});
    if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
    this.small?.stop();
  }

  /** Opens the capture (capture.js); stop() during the wait releases it. */
  async capture(options) {
    const reader = await openCapture(this.track, options);
    if (this.stopped) {
      reader.cancel().catch(() => {});
      throw new Error('stopped before capture started');
    }
    return reader;
  }

  async loop() {
    try {
      while (!this.stopped) {
        const { value, done } = await this.reader.read();
        if (done) break;
        this.handle(value);
      }
    } catch (e) {
      if (!this.stopped) this.log(`track ${this.trackId}: capture failed: ${e.message}`);
    }
  }

  emit(header, payload) {
    if (this.onFrame(this, header, payload)) {
      this.stats.bytes += payload.length;
      return true;
    }
    this.stats.framesNotSent += 1;
    return false;
  }
}

export class VideoPublisher extends Publisher {
  /**
   * @param {object} o trackId (client track id), track (video MediaStreamTrack),
   *   source ('camera'|'screen'), clock (ClockSync), onFrame, log, options
   *   (overrides of VIDEO_PRESETS, plus prefer: 'vp8' and effect: a background.js
   *   BackgroundEffect the camera's frames pass through before encoding).
   */
  constructor(o) {
    super(o);
    this.kind = 'video';
    this.source = o.source || 'camera';
    this.settings = { ...(VIDEO_PRESETS[this.source] || VIDEO_PRESETS.camera), ...(o.options || {}) };
    this.group = 0;
    this.forceKey = true;
    this.lastKeyAt = 0;
    this.due = null; // capture timestamp (µs) of the next frame slot
    this.scaler = null;
    this.small = null; // SmallEncoding, for cameras (simulcast) unless options.simulcast === false
    this.unwanted = false; // the server says nobody receives the full quality (TrackWanted)
    this.stats = {
      trackId: this.trackId, kind: 'video', source: this.source, codec: null, layers: 0, width: 0, height: 0,
      framesCaptured: 0, framesEncoded: 0, framesSent: 0, framesNotSent: 0, framesSkipped: 0,
      bytes: 0, keyframes: 0, keyframeRequests: 0, encoderErrors: 0, framesUnwanted: 0, unwanted: false,
    };
  }

  /**
   * The server's TrackWanted for a simulcast camera: while nobody receives
   * the full quality it is not encoded (the small one goes on); when it is
   * wanted again it resumes with a keyframe.
   */
  setWanted(wanted) {
    if (!this.small) return;
    if (this.unwanted && wanted) this.forceKey = true;
    this.unwanted = !wanted;
    this.stats.unwanted = this.unwanted;
  }

  /** Starts capture and encoding; resolves with the TrackConfig once the first frame is encoded. */
  async start() {
    this.reader = await this.capture({ fps: this.settings.maxFps, effect: this.settings.effect || null });
    const first = await withTimeout(this.reader.read(), 10_000, 'the first camera frame');
    if (first.done) throw new Error('the video track ended before its first frame');
    const frame = first.value;
    const { width, height } = fitSize(frame.displayWidth, frame.displayHeight, this.settings.maxWidth, this.settings.maxHeight);
    let choice;
    try {
      choice = await chooseVideoCodec({
        width, height, bitrate: this.settings.bitrate, framerate: this.settings.maxFps, prefer: this.settings.prefer,
      });
    } catch (e) {
      frame.close();
      throw e;
    }
    Object.assign(this.stats, { codec: choice.codec, layers: choice.layers, width, height });
    this.choice = choice;
    this.width = width;
    this.height = height;
    const small = this.settings.small;
    if (small && this.settings.simulcast !== false) {
      const size = fitSize(width, height, small.maxWidth, small.maxHeight);
      if (size.height < height) {
        try {
          const smallChoice = await chooseVideoCodec({
            ...size, bitrate: small.bitrate, framerate: this.settings.maxFps, prefer: choice.codec,
          });
          this.small = new SmallEncoding({ parent: this, choice: smallChoice, ...size });
        } catch (e) {
          this.log(`track ${this.trackId}: no small quality: ${e.message}`);
        }
      }
    }
    this.configured = new Promise((resolve, reject) => {
      this.resolveConfig = resolve;
      this.rejectConfig = reject;
    });
    this.makeEncoder();
    this.handle(frame);
    this.loop();
    return withTimeout(this.configured, 10_000, 'the first encoded frame');
  }

  makeEncoder() {
    this.encoder = new VideoEncoder({
      output: (chunk, metadata) => this.onChunk(chunk, metadata),
      error: (e) => this.onEncoderError(e),
    });
    this.encoder.configure(this.choice.config);
    this.forceKey = true;
  }

  onEncoderError(e) {
    this.stats.encoderErrors += 1;
    this.log(`track ${this.trackId}: video encoder error: ${e.message}`);
    if (!this.config) this.rejectConfig(e);
    // Recover with a fresh encoder (a few times), starting at a keyframe.
    if (!this.stopped && this.stats.encoderErrors <= 5) this.makeEncoder();
  }

  /** Make the next encoded frame a keyframe (RequestKeyframe from the server). */
  requestKeyframe() {
    this.stats.keyframeRequests += 1;
    this.forceKey = true;
  }

  setMuted(muted) {
    if (this.muted && !muted) {
      this.forceKey = true;
      if (this.small) this.small.forceKey = true;
    }
    super.setMuted(muted);
  }

  handle(frame) {
    this.stats.framesCaptured += 1;
    this.mediaClock.observe(frame.timestamp);
    const enc = this.encoder;
    if (this.muted || this.stopped || !enc || enc.state !== 'configured' || this.tooSoon(frame.timestamp)) {
      frame.close();
      return;
    }
    this.small?.encode(frame);
    // Paused only once configured: the first frame gives the TrackConfig.
    if (this.unwanted && this.config) {
      this.stats.framesUnwanted += 1;
      frame.close();
      return;
    }
    if (enc.encodeQueueSize > 2) {
      this.stats.framesSkipped += 1; // the encoder is behind: skip rather than queue
      frame.close();
      return;
    }
    let input = frame;
    if (frame.displayWidth !== this.width || frame.displayHeight !== this.height) input = this.scale(frame);
    const now = performance.now();
    const keyFrame = this.forceKey || now - this.lastKeyAt >= this.settings.keyframeIntervalMs;
    if (keyFrame) {
      this.forceKey = false;
      this.lastKeyAt = now;
    }
    try {
      enc.encode(input, { keyFrame });
    } catch (e) {
      this.log(`track ${this.trackId}: encode failed: ${e.message}`);
    }
    if (input !== frame) input.close();
    frame.close();
  }

  // Frame-rate cap: a frame is taken when it is at most a quarter interval
  // early for the next slot (tolerates capture jitter; halves a 60 fps camera).
  tooSoon(ts) {
    const interval = 1e6 / this.settings.maxFps;
    if (this.due !== null && ts < this.due - interval / 4) return true;
    this.due = this.due === null || ts - this.due > interval ? ts + interval : this.due + interval;
    return false;
  }

  // Resizes a frame to the encoder's size (camera changed size, or larger than the box).
  scale(frame) {
    if (!this.scaler) {
      const canvas = new OffscreenCanvas(this.width, this.height);
      this.scaler = { canvas, ctx: canvas.getContext('2d') };
    }
    this.scaler.ctx.drawImage(frame, 0, 0, this.width, this.height);
    return new VideoFrame(this.scaler.canvas, { timestamp: frame.timestamp, duration: frame.duration ?? undefined });
  }

  onChunk(chunk, metadata) {
    if (this.stopped) return;
    if (!this.config) {
      this.config = { kind: 'video', codec: this.choice.codec, width: this.width, height: this.height, source: this.source === 'screen' ? 'screen' : 'camera' };
      const desc = metadata?.decoderConfig?.description;
      if (desc && desc.byteLength > 0 && desc.byteLength <= MAX_DESCRIPTION) this.config.description = toBase64(bytesOf(desc));
      this.resolveConfig(this.config);
    }
    const keyframe = chunk.type === 'key';
    if (keyframe) {
      this.group += 1;
      this.stats.keyframes += 1;
      this.lastKeyAt = performance.now();
    }
    const layer = keyframe ? 0 : Math.min(2, Math.max(0, metadata?.svc?.temporalLayerId ?? 0));
    const payload = new Uint8Array(chunk.byteLength);
    chunk.copyTo(payload);
    this.stats.framesEncoded += 1;
    const header = {
      track: this.trackId, group: this.group, sequence: this.sequence++,
      timestamp: this.clock.toTimelineUs(this.mediaClock.toLocalMs(chunk.timestamp)), keyframe, layer,
    };
    if (this.emit(header, payload)) this.stats.framesSent += 1;
  }
}

/**
 * The small quality of a camera (simulcast): its own VideoEncoder fed the
 * camera's frames scaled down. The client gives it a `trackId` and an
 * `onFrame(encoding, header, payload)` sink (returning true when sent), and
 * publishes it with `simulcast_of` once `configured` resolves with its
 * TrackConfig. `stop()` closes it; the camera's stop() does too.
 */
export class SmallEncoding {
  constructor({ parent, choice, width, height }) {
    this.parent = parent;
    this.choice = choice;
    this.width = width;
    this.height = height;
    this.trackId = null;
    this.onFrame = () => false;
    this.group = 0;
    this.sequence = 0;
    this.forceKey = true;
    this.lastKeyAt = 0;
    this.stopped = false;
    this.config = null;
    const canvas = new OffscreenCanvas(width, height);
    this.scaler = { canvas, ctx: canvas.getContext('2d') };
    this.stats = {
      quality: 'small', codec: choice.codec, layers: choice.layers, width, height,
      framesEncoded: 0, framesSent: 0, framesNotSent: 0, framesSkipped: 0,
      bytes: 0, keyframes: 0, keyframeRequests: 0, encoderErrors: 0,
    };
    this.configured = new Promise((resolve, reject) => {
      this.resolveConfig = resolve;
      this.rejectConfig = reject;
    });
    this.configured.catch(() => {});
    this.makeEncoder();
  }

  makeEncoder() {
    this.encoder = new VideoEncoder({
      output: (chunk, metadata) => this.onChunk(chunk, metadata),
      error: (e) => {
        this.stats.encoderErrors += 1;
        this.parent.log(`track ${this.trackId}: small video encoder error: ${e.message}`);
        if (!this.config) this.rejectConfig(e);
        if (!this.stopped && this.stats.encoderErrors <= 5) this.makeEncoder();
      },
    });
    this.encoder.configure(this.choice.config);
    this.forceKey = true;
  }

  /** Make its next frame a keyframe (RequestKeyframe for its track id). */
  requestKeyframe() {
    this.stats.keyframeRequests += 1;
    this.forceKey = true;
  }

  /** Encodes a scaled copy of `frame` (the caller keeps and closes `frame`). */
  encode(frame) {
    const enc = this.encoder;
    if (this.stopped || enc.state !== 'configured') return;
    if (enc.encodeQueueSize > 2) {
      this.stats.framesSkipped += 1;
      return;
    }
    const now = performance.now();
    const keyFrame = this.forceKey || now - this.lastKeyAt >= this.parent.settings.keyframeIntervalMs;
    if (keyFrame) {
      this.forceKey = false;
      this.lastKeyAt = now;
    }
    let input = null;
    try {
      this.scaler.ctx.drawImage(frame, 0, 0, this.width, this.height);
      input = new VideoFrame(this.scaler.canvas, { timestamp: frame.timestamp, duration: frame.duration ?? undefined });
      enc.encode(input, { keyFrame });
    } catch (e) {
      this.parent.log(`track ${this.trackId}: small encode failed: ${e.message}`);
    } finally {
      input?.close();
    }
  }

  onChunk(chunk, metadata) {
    if (this.stopped) return;
    if (!this.config) {
      this.config = { kind: 'video', codec: this.choice.codec, width: this.width, height: this.height, source: 'camera' };
      const desc = metadata?.decoderConfig?.description;
      if (desc && desc.byteLength > 0 && desc.byteLength <= MAX_DESCRIPTION) this.config.description = toBase64(bytesOf(desc));
      this.resolveConfig(this.config);
    }
    const keyframe = chunk.type === 'key';
    if (keyframe) {
      this.group += 1;
      this.stats.keyframes += 1;
      this.lastKeyAt = performance.now();
    }
    const layer = keyframe ? 0 : Math.min(2, Math.max(0, metadata?.svc?.temporalLayerId ?? 0));
    const payload = new Uint8Array(chunk.byteLength);
    chunk.copyTo(payload);
    this.stats.framesEncoded += 1;
    const p = this.parent;
    const header = {
      track: this.trackId, group: this.group, sequence: this.sequence++,
      timestamp: p.clock.toTimelineUs(p.mediaClock.toLocalMs(chunk.timestamp)), keyframe, layer,
    };
    if (this.onFrame(this, header, payload)) {
      this.stats.framesSent += 1;
      this.stats.bytes += payload.length;
    } else {
      this.stats.framesNotSent += 1;
    }
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    if (this.encoder.state !== 'closed') this.encoder.close();
    this.rejectConfig(new Error('stopped'));
  }
}

export class AudioPublisher extends Publisher {
  /** @param {object} o trackId, track (audio MediaStreamTrack), clock, onFrame, log, options {bitrate, channels}. */
  constructor(o) {
    super(o);
    this.kind = 'audio';
    this.source = 'microphone';
    this.options = o.options || {};
    this.stats = {
      trackId: this.trackId, kind: 'audio', source: 'microphone', codec: 'opus', channels: 0,
      audioFramesCaptured: 0, audioFramesEncoded: 0, audioFramesSent: 0, framesNotSent: 0,
      bytes: 0, encoderErrors: 0, chunkTimestampSkewMs: 0, captureGapMs: 0,
    };
  }

  /** Starts capture and encoding; resolves with the TrackConfig at once. */
  async start() {
    const settings = this.track.getSettings ? this.track.getSettings() : {};
    const channels = Math.min(2, Math.max(1, this.options.channels || settings.channelCount || 1));
    this.reader = await this.capture({ channels });
    try {
      this.encoderConfig = await this.pickConfig(this.reader.sampleRate || settings.sampleRate || 48000, channels);
    } catch (e) {
      this.reader.cancel().catch(() => {});
      throw e;
    }
    this.stats.channels = channels;
    this.makeEncoder();
    this.loop();
    // Opus decodes at 48 kHz whatever the input rate, so that is what subscribers configure.
    this.config = { kind: 'audio', codec: 'opus', sample_rate: 48000, channels, source: 'microphone' };
    return this.config;
  }

  async pickConfig(sampleRate, numberOfChannels) {
    const base = {
      codec: 'opus', sampleRate, numberOfChannels,
      bitrate: this.options.bitrate || (numberOfChannels === 2 ? 64_000 : 32_000),
    };
    for (const c of [{ ...base, opus: { frameDuration: 20_000, complexity: 5 } }, { ...base, opus: { frameDuration: 20_000 } }]) {
      try {
        if ((await AudioEncoder.isConfigSupported(c)).supported) return c;
      } catch {
        // try the next one
      }
    }
    throw new Error(`this browser cannot encode Opus at ${sampleRate} Hz, ${numberOfChannels} channel(s)`);
  }

  makeEncoder() {
    this.resetTiming();
    this.encoder = new AudioEncoder({
      output: (chunk) => this.onChunk(chunk),
      error: (e) => {
        this.stats.encoderErrors += 1;
        this.log(`track ${this.trackId}: audio encoder error: ${e.message}`);
        if (!this.stopped && this.stats.encoderErrors <= 5) this.makeEncoder();
      },
    });
    this.encoder.configure(this.encoderConfig);
  }

  // Capture timing by sample count: Chromium's Opus chunk timestamps were seen
  // to be off by one 10 ms capture buffer from one encoder to the next, so the
  // capture time of an encoded frame's first sample is looked up in the inputs.
  resetTiming() {
    this.inputs = []; // {ts, start, frames, rate} of recent encoder inputs
    this.inSamples = 0;
    this.outSamples = 0;
  }

  captureTimestamp(chunk) {
    const first = this.inputs[0];
    const rate = first ? first.rate : 48000;
    const s = this.outSamples;
    this.outSamples += Math.round(((chunk.duration || 20_000) * rate) / 1e6);
    while (this.inputs.length && this.inputs[0].start + this.inputs[0].frames <= s) this.inputs.shift();
    const e = this.inputs[0];
    if (!e || e.start > s) return chunk.timestamp;
    return e.ts + ((s - e.start) * 1e6) / e.rate;
  }

  setMuted(muted) {
    // Resume with an empty encoder, so sample counting (above) starts afresh.
    if (this.muted && !muted && this.encoder?.state === 'configured') {
      this.encoder.reset();
      this.encoder.configure(this.encoderConfig);
      this.resetTiming();
    }
    super.setMuted(muted);
  }

  handle(data) {
    this.stats.audioFramesCaptured += 1;
    this.mediaClock.observe(data.timestamp);
    // Audio the capture queue dropped (the main thread was too busy to read it).
    if (this.lastInputEnd !== undefined && data.timestamp - this.lastInputEnd > (data.duration || 0) / 2) {
      this.stats.captureGapMs += Math.round((data.timestamp - this.lastInputEnd) / 1000);
    }
    this.lastInputEnd = data.timestamp + (data.duration || 0);
    const enc = this.encoder;
    if (this.muted || this.stopped || !enc || enc.state !== 'configured') {
      data.close();
      return;
    }
    // The device changed its format: follow it (the Opus stream stays decodable at 48 kHz).
    if (data.sampleRate !== this.encoderConfig.sampleRate || data.numberOfChannels !== this.encoderConfig.numberOfChannels) {
      this.encoderConfig = { ...this.encoderConfig, sampleRate: data.sampleRate, numberOfChannels: Math.min(2, data.numberOfChannels) };
      try {
        enc.reset();
        enc.configure(this.encoderConfig);
        this.resetTiming();
      } catch (e) {
        this.log(`track ${this.trackId}: cannot encode ${data.sampleRate} Hz audio: ${e.message}`);
      }
    }
    try {
      enc.encode(data);
      this.inputs.push({ ts: data.timestamp, start: this.inSamples, frames: data.numberOfFrames, rate: data.sampleRate });
      this.inSamples += data.numberOfFrames;
      if (this.inputs.length > 100) this.inputs.shift();
    } catch (e) {
      this.log(`track ${this.trackId}: audio encode failed: ${e.message}`);
    }
    data.close();
  }

  onChunk(chunk) {
    if (this.stopped) return;
    const payload = new Uint8Array(chunk.byteLength);
    chunk.copyTo(payload);
    this.stats.audioFramesEncoded += 1;
    const captured = this.captureTimestamp(chunk);
    this.stats.chunkTimestampSkewMs = Math.round((chunk.timestamp - captured) / 100) / 10;
    const header = {
      track: this.trackId, group: 0, sequence: this.sequence++,
      timestamp: this.clock.toTimelineUs(this.mediaClock.toLocalMs(captured)), keyframe: true, layer: 0,
    };
    if (this.emit(header, payload)) this.stats.audioFramesSent += 1;
  }
}
