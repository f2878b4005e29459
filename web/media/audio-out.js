// Audio playback: one shared AudioContext (48 kHz, interactive latency) and
// per subscribed audio track an AudioWorkletNode running the jitter buffer of
// audio-worklet.js, followed by a GainNode for the volume.
//
// Browsers start an AudioContext suspended until the user interacts with the
// page; `resume()` must then be called from a click handler (the app's job).
// Headless tests pass --autoplay-policy=no-user-gesture-required instead.

const WORKLET_URL = new URL('./audio-worklet.js', import.meta.url);

export class AudioOutput {
  /** @param {object} o sampleRate (48000), targetMs (jitter buffer, 60), maxMs (300). */
  constructor({ sampleRate = 48000, targetMs = 60, maxMs = 300 } = {}) {
    this.options = { sampleRate, targetMs, maxMs };
    this.ctx = null;
    this.ready = null;
  }

  async ensure() {
    if (!this.ctx) {
      this.ctx = new AudioContext({ latencyHint: 'interactive', sampleRate: this.options.sampleRate });
      this.ready = this.ctx.audioWorklet.addModule(WORKLET_URL);
    }
    await this.ready;
    if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
    return this.ctx;
  }

  /** 'running', 'suspended', 'closed', or 'none' before the first player. */
  get state() {
    return this.ctx ? this.ctx.state : 'none';
  }

  /** Resumes playback (call from a user gesture). */
  async resume() {
    await this.ensure();
    await this.ctx.resume();
  }

  /** A player for `channels` channels of decoded AudioData. */
  async createPlayer(channels) {
    const ctx = await this.ensure();
    return new AudioPlayer(ctx, channels, this.options);
  }

  close() {
    this.ctx?.close().catch(() => {});
    this.ctx = null;
  }
}

export class AudioPlayer {
  constructor(ctx, channels, { targetMs, maxMs }) {
    this.ctx = ctx;
    this.channels = channels;
    this.node = new AudioWorkletNode(ctx, 'podium-jitter-player', {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [channels],
      processorOptions: { channels, targetMs, maxMs },
    });
    this.gain = ctx.createGain();
    this.node.connect(this.gain).connect(ctx.destination);
    this.stats = { state: 'buffering', bufferedMs: 0, playedMs: 0, concealedMs: 0, droppedMs: 0, underruns: 0 };
    this.node.port.onmessage = (e) => {
      this.stats = e.data;
    };
    this.closed = false;
  }

  /** Queues one decoded AudioData (the caller still owns and closes it). */
  push(data) {
    if (this.closed) return;
    const n = data.numberOfFrames;
    const planes = [];
    for (let c = 0; c < this.channels; c++) {
      const plane = new Float32Array(n);
      data.copyTo(plane, { planeIndex: Math.min(c, data.numberOfChannels - 1), format: 'f32-planar' });
      planes.push(data.sampleRate === this.ctx.sampleRate ? plane : resample(plane, data.sampleRate, this.ctx.sampleRate));
    }
    this.node.port.postMessage({ pcm: planes }, planes.map((p) => p.buffer));
  }

  setVolume(volume) {
    this.gain.gain.value = Math.max(0, Number(volume) || 0);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.node.port.postMessage({ stop: true });
    this.node.disconnect();
    this.gain.disconnect();
  }
}

// Linear resampling, only used if the context could not run at the decoder's rate.
function resample(input, from, to) {
  const out = new Float32Array(Math.round((input.length * to) / from));
  const step = from / to;
  for (let i = 0; i < out.length; i++) {
    const x = i * step;
    const k = Math.floor(x);
    const f = x - k;
    out[i] = input[k] * (1 - f) + (input[Math.min(k + 1, input.length - 1)] ?? 0) * f;
  }
  return out;
}
