// Self-test of the video receive logic in web/media/receive.js with a stub
// VideoDecoder (node has no WebCodecs): start at a keyframe, stale groups,
// the reorder hold across group streams, reset streams, keyframe requests.
// Run: node web/media/receive.test.mjs   (prints "N passed, N failed")

const decoded = [];
globalThis.EncodedVideoChunk = class {
  constructor({ type, timestamp, data }) {
    Object.assign(this, { type, timestamp, byteLength: data.length });
  }
};
globalThis.VideoDecoder = class {
  constructor({ output, error }) {
    this.output = output;
    this.error = error;
    this.state = 'unconfigured';
    this.decodeQueueSize = 0;
  }
  configure(config) {
    this.config = config;
    this.state = 'configured';
  }
  decode(chunk) {
    if (this.state !== 'configured') throw new Error('not configured');
    if (chunk.timestamp === 666) { // a corrupt frame
      this.state = 'closed';
      this.error(new Error('Decoding error.'));
      return;
    }
    decoded.push(chunk.timestamp);
    this.output({ timestamp: chunk.timestamp, displayWidth: 640, displayHeight: 360, close() {} });
  }
  close() {
    this.state = 'closed';
  }
};

const { VideoReceiver, videoDecoderConfig } = await import('./receive.js');
const { ClockSync } = await import('./timing.js');

let passed = 0;
let failed = 0;
async function test(name, fn) {
  decoded.length = 0;
  try {
    await fn();
    passed += 1;
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}
function eq(a, b, what = '') {
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${what} expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const config = { kind: 'video', codec: 'av1', width: 640, height: 360 };
const P = new Uint8Array([1, 2, 3]);
// Frame timestamps encode group*100 + index so the decode order is readable.
const f = (group, i) => ({ track: 7, group, sequence: group * 100 + i, timestamp: group * 100 + i, keyframe: i === 0, layer: 0 });
function receiver(opts = {}) {
  const requests = [];
  const r = new VideoReceiver({ track: 7, config, clock: new ClockSync(), requestKeyframe: (t) => requests.push(t), ...opts });
  return { r, requests };
}
function group(r, g, n, { end = true, reset = false } = {}) {
  r.groupOpened(g);
  for (let i = 0; i < n; i++) r.frame(f(g, i), P);
  if (end) r.groupEnded(g, reset);
}

await test('decoder config from TrackConfig', () => {
  eq(videoDecoderConfig(config), { codec: 'av01.0.04M.08', codedWidth: 640, codedHeight: 360, optimizeForLatency: true });
  const c = videoDecoderConfig({ kind: 'video', codec: 'vp8', width: 1280, height: 720, description: 'gQgMAA==' });
  eq([c.codec, Array.from(c.description)], ['vp8', [0x81, 0x08, 0x0c, 0x00]]);
  eq(videoDecoderConfig({ ...config, width: 1280, height: 720 }).codec, 'av01.0.08M.08');
});

await test('groups decode in order; stale frames are skipped', () => {
  const { r } = receiver();
  group(r, 1, 3);
  group(r, 2, 2);
  r.frame(f(1, 3), P); // a late frame of an older group
  eq(decoded, [100, 101, 102, 200, 201]);
  eq(r.stats.framesStale, 1);
  eq(r.stats.framesDecoded, 5);
  r.close();
});

await test('deltas before the first keyframe are dropped, and a keyframe is requested after 1 s', async () => {
  const { r, requests } = receiver();
  r.groupOpened(3);
  r.frame({ ...f(3, 1) }, P); // joined mid-group (a server would not, but be safe)
  r.frame({ ...f(3, 2) }, P);
  eq(decoded, []);
  eq(r.stats.framesDropped, 2);
  r.waitSince -= 1000; // pretend a second passed
  r.tick();
  eq(requests, [7]);
  r.tick(); // at most one a second
  eq(requests, [7]);
  group(r, 4, 2);
  eq(decoded, [400, 401]);
  eq(r.waitingKey, false);
  r.close();
});

await test('reorder: a newer group waits for the older stream to finish', () => {
  const { r } = receiver();
  group(r, 1, 2, { end: false });
  r.groupOpened(2);
  r.frame(f(2, 0), P); // group 2's keyframe overtakes group 1's tail
  r.frame(f(2, 1), P);
  r.frame(f(1, 2), P); // the tail still decodes
  eq(decoded, [100, 101, 102]);
  r.groupEnded(1, false); // group 1 done: group 2 flows
  eq(decoded, [100, 101, 102, 200, 201]);
  eq(r.stats.framesReordered, 1);
  r.close();
});

await test('reorder: the hold ends after reorderMs if the older stream stays open', async () => {
  const { r } = receiver({ reorderMs: 20 });
  group(r, 1, 2, { end: false });
  r.groupOpened(2);
  r.frame(f(2, 0), P);
  eq(decoded, [100, 101]);
  await sleep(40);
  eq(decoded, [100, 101, 200]);
  r.frame(f(1, 2), P); // now stale
  eq(r.stats.framesStale, 1);
  r.close();
});

await test('a reset stream waits for the next group, a decode error asks for a keyframe', () => {
  const { r, requests } = receiver();
  group(r, 1, 2, { reset: true });
  eq(r.waitingKey, true);
  group(r, 2, 2);
  eq(decoded, [100, 101, 200, 201]);
  r.groupOpened(3);
  r.frame(f(3, 0), P);
  r.frame({ ...f(3, 1), timestamp: 666 }, P); // the decoder fails
  r.frame(f(3, 2), P); // dropped until a keyframe
  eq(requests, [7]);
  eq(r.stats.decodeErrors, 1);
  group(r, 4, 1);
  eq(decoded, [100, 101, 200, 201, 300, 400]);
  r.close();
});

await test('latency is measured at decoder output on the shared timeline', () => {
  const { r } = receiver();
  const now = Math.round((performance.timeOrigin + performance.now()) * 1000);
  r.groupOpened(1);
  r.frame({ ...f(1, 0), timestamp: now - 25_000 }, P);
  const s = r.snapshot().latency;
  if (!(s.count === 1 && s.p50 >= 25 && s.p50 < 100)) throw new Error(`latency ${JSON.stringify(s)}`);
  r.close();
});

console.log(`${passed} passed, ${failed} failed`);
if (failed) process.exitCode = 1;
