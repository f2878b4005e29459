// Clocks and latency statistics for the media client.
//
// The capture→decoded latency method (documented here, used by publish.js and
// receive.js):
//
// 1. Shared timeline. Every client estimates `offset = server_time − local`,
//    where local is this page's wall clock (`performance.timeOrigin +
//    performance.now()`, ms), from Ping/Pong (and Welcome): for a ping sent at
//    local t0 and answered at t1 with server_time S, offset ≈ S − (t0+t1)/2,
//    good to ±RTT/2 of path asymmetry. The sample with the smallest RTT of the
//    last few wins (NTP's rule). Before any estimate (loopback, or before
//    Welcome) the offset is 0, so the timeline is the plain wall clock.
// 2. Publisher. The frame header's `timestamp_us` is the capture time on that
//    timeline, in µs: (capture in local wall ms + offset) × 1000. Capture time
//    comes from the WebCodecs timestamp of the captured VideoFrame/AudioData,
//    mapped to the local clock by `MediaClock` (Chromium stamps audio with the
//    performance.now() clock but video with another monotonic base; the
//    mapping takes the tightest bound, see MediaClock). Audio: the capture time
//    of an Opus frame's first sample, found by counting samples through the
//    encoder (Chromium's own chunk timestamps drift when the capture queue
//    drops audio); video: the frame's own timestamp (kept 1:1 by the encoder).
// 3. Subscriber. When the decoder outputs a frame (whose timestamp is the
//    header's; for audio the packet's own, as Chromium's AudioDecoder
//    re-stamps its output), latency = (local wall now + own offset) − timestamp. Both
//    clients' offsets point at the same server clock, so the error is the sum
//    of the two path asymmetries (sub-millisecond on one machine, where the
//    wall clocks are the same anyway).
//
// Frames whose timestamp lies more than a minute away from the timeline (a
// publisher stamping another clock, e.g. a bot counting from zero) are not
// counted as latency samples.

/** This page's wall clock in ms (monotonic within the page). */
export function wallMs() {
  return performance.timeOrigin + performance.now();
}

/** Estimates the server clock from Ping/Pong round trips. */
export class ClockSync {
  constructor() {
    this.offsetMs = 0; // server − local; 0 until the first sample
    this.rttMs = null; // latest round trip
    this.minRttMs = null;
    this.samples = []; // recent {rtt, offset}
    this.synced = false;
  }

  /** Adds a round trip: sent and received in local wall ms, the server's time in ms. */
  sample(sentMs, receivedMs, serverTimeMs) {
    const rtt = Math.max(0, receivedMs - sentMs);
    this.rttMs = rtt;
    this.samples.push({ rtt, offset: serverTimeMs - (sentMs + receivedMs) / 2 });
    if (this.samples.length > 16) this.samples.shift();
    let best = this.samples[0];
    for (const s of this.samples) if (s.rtt < best.rtt) best = s;
    this.offsetMs = best.offset;
    this.minRttMs = best.rtt;
    this.synced = true;
  }

  /** A local wall time (ms) on the shared timeline, in µs (integer, ≥ 0). */
  toTimelineUs(localMs) {
    return Math.max(0, Math.round((localMs + this.offsetMs) * 1000));
  }

  /** Now on the shared timeline, in ms. */
  nowMs() {
    return wallMs() + this.offsetMs;
  }
}

/**
 * Maps the timestamps (µs) of captured VideoFrames/AudioData to the local wall
 * clock. The capture clock runs at the same rate as performance.now() but may
 * have another origin: `base` = timestamp − performance.now() µs at the moment a
 * frame is read. Capture precedes reading, so every read gives a lower bound of
 * the true base; the largest one over recent frames is kept (it undercounts
 * latency by the smallest capture→read delay, ~1 ms with Chromium's devices).
 */
export class MediaClock {
  constructor() {
    this.base = null;
    this.window = [];
    this.seen = 0;
  }

  /** Call when a captured frame is read (before encoding). */
  observe(timestampUs) {
    const b = timestampUs - performance.now() * 1000;
    this.window.push(b);
    if (this.window.length > 256) this.window.shift();
    this.seen += 1;
    // A new maximum applies at once; every 64 frames the bound is recomputed
    // over the window, so a slowly drifting capture clock is followed.
    if (this.base === null || b > this.base) this.base = b;
    else if (this.seen % 64 === 0) this.base = Math.max(...this.window);
  }

  /** A capture timestamp (µs) as local wall ms. */
  toLocalMs(timestampUs) {
    const base = this.base ?? 0;
    return performance.timeOrigin + (timestampUs - base) / 1000;
  }
}

/** Nearest-rank percentile of a sorted array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const round1 = (v) => (v === null ? null : Math.round(v * 10) / 10);

/** The last N latency samples (ms) with their summary. */
export class LatencyStats {
  constructor(capacity = 600) {
    this.capacity = capacity;
    this.values = [];
    this.count = 0;
    this.rejected = 0;
  }

  add(ms) {
    if (!Number.isFinite(ms) || Math.abs(ms) > 60_000) {
      this.rejected += 1;
      return;
    }
    this.count += 1;
    this.values.push(ms);
    if (this.values.length > this.capacity) this.values.shift();
  }

  /** {count, p50, p95, min, max, last} over the kept samples, in ms (0.1 ms precision). */
  summary() {
    const sorted = [...this.values].sort((a, b) => a - b);
    return {
      count: this.count,
      p50: round1(percentile(sorted, 50)),
      p95: round1(percentile(sorted, 95)),
      min: round1(sorted.length ? sorted[0] : null),
      max: round1(sorted.length ? sorted[sorted.length - 1] : null),
      last: round1(this.values.length ? this.values[this.values.length - 1] : null),
    };
  }

  /** The kept samples, oldest first (ms, 0.1 ms precision). */
  samples() {
    return this.values.map(round1);
  }
}
