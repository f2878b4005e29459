// Self-test of MediaClient.support() (web/media/client.js): which browsers may
// publish. Chromium (MediaStreamTrackProcessor) and Firefox (no processor, but
// VideoFrame, AudioData and an AudioWorklet for capture.js's fallback) can;
// without WebTransport, without an encoder, or without any way to capture, a
// browser cannot, and the live room then does not offer it the stage.
// Run: node web/media/support.test.mjs   (prints "N passed, N failed")

import { MediaClient } from './client.js';
import { captureMethod } from './capture.js';

let passed = 0;
let failed = 0;
function test(name, fn) {
  try {
    fn();
    passed += 1;
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

const fn = function () {};
const RECEIVE = ['WebTransport', 'VideoDecoder', 'AudioDecoder', 'AudioWorkletNode'];
const CHROMIUM = [...RECEIVE, 'VideoEncoder', 'AudioEncoder', 'MediaStreamTrackProcessor', 'VideoFrame', 'AudioData', 'AudioContext'];
const FIREFOX = [...RECEIVE, 'VideoEncoder', 'AudioEncoder', 'VideoFrame', 'AudioData', 'AudioContext'];
const ALL = new Set([...CHROMIUM, 'document']);

/** Runs `check` in a global scope holding exactly `names` (plus document when `doc`). */
function browser(names, doc, check) {
  const saved = new Map();
  for (const n of ALL) {
    saved.set(n, Object.getOwnPropertyDescriptor(globalThis, n));
    delete globalThis[n];
  }
  for (const n of names) globalThis[n] = fn;
  if (doc) globalThis.document = {};
  try {
    check();
  } finally {
    for (const [n, d] of saved) {
      delete globalThis[n];
      if (d) Object.defineProperty(globalThis, n, d);
    }
  }
}

function expect(names, doc, publish, receive, method) {
  browser(names, doc, () => {
    const s = MediaClient.support();
    if (s.publish !== publish) throw new Error(`publish ${s.publish}, want ${publish} (missing ${s.missing})`);
    if (s.receive !== receive) throw new Error(`receive ${s.receive}, want ${receive}`);
    if (captureMethod() !== method) throw new Error(`capture ${captureMethod()}, want ${method}`);
  });
}

test('Chromium publishes through MediaStreamTrackProcessor', () => expect(CHROMIUM, true, true, true, 'processor'));
test('Firefox publishes through the <video>/AudioWorklet fallback', () => expect(FIREFOX, true, true, true, 'fallback'));
test('without WebTransport media still goes (over the WebSocket)', () => expect(FIREFOX.filter((n) => n !== 'WebTransport'), true, true, true, 'fallback'));
test('without a video encoder the stage is not offered', () => expect(FIREFOX.filter((n) => n !== 'VideoEncoder'), true, false, true, 'fallback'));
test('without an audio encoder the stage is not offered', () => expect(FIREFOX.filter((n) => n !== 'AudioEncoder'), true, false, true, 'fallback'));
test('without VideoFrame or a processor there is no capture', () => expect(FIREFOX.filter((n) => n !== 'VideoFrame'), true, false, true, null));
test('without AudioData or a processor there is no capture', () => expect(FIREFOX.filter((n) => n !== 'AudioData'), true, false, true, null));
test('the missing APIs are named', () => {
  browser(FIREFOX.filter((n) => n !== 'VideoFrame'), true, () => {
    const { missing } = MediaClient.support();
    if (!missing.includes('VideoFrame')) throw new Error(`missing ${missing}`);
  });
});

console.log(`${passed} passed, ${failed} failed`);
if (failed) process.exitCode = 1;
