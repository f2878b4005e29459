// AudioWorklet processor 'podium-jitter-player': plays decoded PCM posted from
// the main thread ({pcm: [Float32Array per channel]}) through a small jitter
// buffer, without gaps.
//
// - Start: silence until `targetMs` of audio is buffered, then play (with a
//   short fade-in).
// - Underrun: the last 10 ms played are repeated with a fading gain (halved
//   every 10 ms); after `concealMs` of concealment it falls silent and buffers
//   up to `targetMs` again. When data returns it fades in over ~2 ms.
// - Too much buffered (a burst, or a suspended context): above `maxMs` the
//   oldest audio is dropped down to `targetMs`; a backlog that stays above
//   twice the target for 1 s is trimmed the same way, so latency cannot creep.
//
// Every ~500 ms it posts its counters ({bufferedMs, playedMs, concealedMs,
// droppedMs, underruns, state}) to the main thread. A separate file because the
// CSP allows only same-origin worklet modules.

const HISTORY_MS = 10;

class JitterPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.channels = Math.max(1, o.channels || 1);
    const ms = (v) => Math.round((v * sampleRate) / 1000);
    this.target = ms(o.targetMs ?? 60);
    this.max = Math.max(this.target * 2, ms(o.maxMs ?? 300));
    this.concealMax = ms(o.concealMs ?? 60);
    this.cap = Math.max(this.max * 2, sampleRate); // ring size (samples per channel)
    this.ring = Array.from({ length: this.channels }, () => new Float32Array(this.cap));
    this.read = 0;
    this.buffered = 0;
    this.historyLen = ms(HISTORY_MS);
    this.history = Array.from({ length: this.channels }, () => new Float32Array(this.historyLen));
    this.historyPos = 0;
    this.state = 'buffering';
    this.concealed = 0; // samples concealed in the current underrun
    this.concealPos = 0;
    this.fadeIn = 0; // samples of fade-in left
    this.fadeLen = ms(2);
    this.highSince = -1;
    this.counters = { underruns: 0, received: 0 };
    this.played = 0;
    this.concealedTotal = 0;
    this.droppedTotal = 0;
    this.sinceReport = 0;
    this.stopped = false;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(msg) {
    if (msg.stop) {
      this.stopped = true;
      return;
    }
    if (!msg.pcm) return;
    const n = msg.pcm[0].length;
    if (this.buffered + n > this.cap) this.drop(this.buffered + n - this.cap);
    const write = (this.read + this.buffered) % this.cap;
    for (let c = 0; c < this.channels; c++) {
      const src = msg.pcm[Math.min(c, msg.pcm.length - 1)];
      const dst = this.ring[c];
      const first = Math.min(n, this.cap - write);
      dst.set(src.subarray(0, first), write);
      if (first < n) dst.set(src.subarray(first), 0);
    }
    this.buffered += n;
    this.counters.received += 1;
  }

  drop(n) {
    n = Math.min(n, this.buffered);
    this.read = (this.read + n) % this.cap;
    this.buffered -= n;
    this.droppedTotal += n;
    if (n > 0) this.fadeIn = this.fadeLen; // avoid a click at the cut
  }

  process(_inputs, outputs) {
    if (this.stopped) return false;
    const out = outputs[0];
    const frames = out[0].length;
    this.trim();
    if (this.state === 'buffering' && this.buffered >= this.target) {
      this.state = 'playing';
      this.fadeIn = this.fadeLen;
    }
    let i = 0;
    if (this.state === 'playing') {
      const n = Math.min(frames, this.buffered);
      if (n > 0 && this.concealed > 0) this.concealed = 0; // data is back
      for (let c = 0; c < out.length; c++) {
        const ring = this.ring[Math.min(c, this.channels - 1)];
        const dst = out[c];
        for (let k = 0; k < n; k++) dst[k] = ring[(this.read + k) % this.cap];
      }
      this.applyFadeIn(out, n);
      this.remember(out, n);
      this.read = (this.read + n) % this.cap;
      this.buffered -= n;
      this.played += n;
      i = n;
      if (i < frames) {
        this.counters.underruns += this.concealed === 0 ? 1 : 0;
        i = this.conceal(out, i, frames);
      }
    }
    for (let c = 0; c < out.length; c++) out[c].fill(0, i);
    this.report(frames);
    return true;
  }

  // Repeats the last HISTORY_MS played with a decaying gain.
  conceal(out, from, to) {
    let i = from;
    for (; i < to && this.concealed < this.concealMax; i++, this.concealed++) {
      const gain = 0.5 ** (this.concealed / this.historyLen);
      const idx = (this.historyPos + this.concealPos) % this.historyLen;
      for (let c = 0; c < out.length; c++) out[c][i] = this.history[Math.min(c, this.channels - 1)][idx] * gain;
      this.concealPos = (this.concealPos + 1) % this.historyLen;
    }
    this.concealedTotal += i - from;
    if (this.concealed >= this.concealMax) {
      this.state = 'buffering';
      this.concealed = 0;
      this.concealPos = 0;
    }
    return i;
  }

  applyFadeIn(out, n) {
    if (this.fadeIn <= 0) return;
    for (let k = 0; k < n && this.fadeIn > 0; k++, this.fadeIn--) {
      const g = 1 - this.fadeIn / this.fadeLen;
      for (let c = 0; c < out.length; c++) out[c][k] *= g;
    }
  }

  remember(out, n) {
    for (let k = 0; k < n; k++) {
      for (let c = 0; c < this.channels; c++) this.history[c][this.historyPos] = out[Math.min(c, out.length - 1)][k];
      this.historyPos = (this.historyPos + 1) % this.historyLen;
    }
    this.concealPos = 0;
  }

  // Keeps the backlog bounded (see the header comment).
  trim() {
    if (this.buffered > this.max) {
      this.drop(this.buffered - this.target);
      this.highSince = -1;
      return;
    }
    if (this.buffered > this.target * 2) {
      if (this.highSince < 0) this.highSince = currentTime;
      else if (currentTime - this.highSince > 1) {
        this.drop(this.buffered - this.target);
        this.highSince = -1;
      }
    } else {
      this.highSince = -1;
    }
  }

  report(frames) {
    this.sinceReport += frames;
    if (this.sinceReport < sampleRate / 2) return;
    this.sinceReport = 0;
    const ms = (v) => Math.round((v * 1000) / sampleRate);
    this.port.postMessage({
      state: this.state,
      bufferedMs: ms(this.buffered),
      playedMs: ms(this.played),
      concealedMs: ms(this.concealedTotal),
      droppedMs: ms(this.droppedTotal),
      underruns: this.counters.underruns,
      chunksReceived: this.counters.received,
    });
  }
}

registerProcessor('podium-jitter-player', JitterPlayer);
