// Self-test of web/media/wire.js: the exact-byte examples of media/PROTOCOL.md,
// round trips of every message and frame, incremental readers fed in awkward
// chunks, and the malformed inputs the Rust reference refuses (same codes).
// Run: node web/media/wire.test.mjs   (prints "N passed, N failed")

import * as W from './wire.js';

let passed = 0;
let failed = 0;
function test(name, fn) {
  try {
    fn();
    passed += 1;
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}
function eq(a, b, what = '') {
  const sa = JSON.stringify(a, replacer);
  const sb = JSON.stringify(b, replacer);
  if (sa !== sb) throw new Error(`${what} expected ${sb}, got ${sa}`);
}
function replacer(_k, v) {
  return v instanceof Uint8Array ? Array.from(v) : v;
}
function throwsCode(fn, code, what = '') {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof W.WireError) && code !== 'Error') throw new Error(`${what}: not a WireError: ${e}`);
    if (code !== 'Error' && e.code !== code) throw new Error(`${what}: expected ${code}, got ${e.code} (${e.message})`);
    return;
  }
  throw new Error(`${what}: expected ${code}, nothing thrown`);
}
const bytes = (...a) => new Uint8Array(a);
const ascii = (s) => new TextEncoder().encode(s);
function framed(type, body) {
  const b = ascii(body);
  const out = new Uint8Array(5 + b.length);
  new DataView(out.buffer).setUint32(0, b.length + 1);
  out[4] = type;
  out.set(b, 5);
  return out;
}
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ------------------------------------------------------------- exact bytes

test('PROTOCOL §3.1 Ping {"nonce":7} is 16 exact bytes', () => {
  const out = W.encodeControl(W.C.Ping, { nonce: 7 });
  eq(out, concat(bytes(0, 0, 0, 0x0c, 0x08), ascii('{"nonce":7}')));
  eq(out.length, 16);
  eq(W.decodeControl(out, 'client'), { type: 8, name: 'Ping', body: { nonce: 7 } });
});

test('Subscribe {"track":5} exact bytes (pinned in the Rust tests too)', () => {
  eq(W.encodeControl(W.C.Subscribe, { track: 5 }), concat(bytes(0, 0, 0, 0x0c, 0x04), ascii('{"track":5}')));
});

test('PROTOCOL §4.1 frame header example', () => {
  const h = { track: 5, group: 300, sequence: 1, timestamp: 20000, keyframe: false, layer: 2 };
  const out = W.encodeFrameHeader(h);
  eq(out, bytes(0x04, 0x05, 0x41, 0x2c, 0x01, 0x80, 0x00, 0x4e, 0x20));
  eq(W.decodeFrameHeader(out), [h, 9]);
});

test('RFC 9000 varint examples decode', () => {
  const table = [
    [bytes(0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c), null], // 151288809941952652 > 2^53
    [bytes(0x9d, 0x7f, 0x3e, 0x7d), 494878333],
    [bytes(0x7b, 0xbd), 15293],
    [bytes(0x25), 37],
    [bytes(0x40, 0x25), 37],
  ];
  for (const [b, v] of table) {
    if (v === null) throwsCode(() => W.readVarint(b, 0), 'invalid_field', 'over 2^53');
    else eq(W.readVarint(b, 0), [v, b.length]);
  }
});

test('varint boundaries round trip in shortest form', () => {
  const table = [[0, 1], [63, 1], [64, 2], [16383, 2], [16384, 4], [2 ** 30 - 1, 4], [2 ** 30, 8],
    [2 ** 32, 8], [2 ** 53 - 1, 8]];
  for (const [v, n] of table) {
    const b = W.encodeVarint(v);
    eq(b.length, n, `len of ${v}`);
    eq(W.readVarint(b, 0), [v, n], `value ${v}`);
    throwsCode(() => W.readVarint(b.subarray(0, n - 1), 0), 'truncated', `cut ${v}`);
  }
  throwsCode(() => W.encodeVarint(-1), 'invalid_field');
  throwsCode(() => W.encodeVarint(1.5), 'invalid_field');
});

// ------------------------------------------------------------- control

const video = { kind: 'video', codec: 'av1', width: 1280, height: 720, description: 'gQgMAA==' };
const audio = { kind: 'audio', codec: 'opus', sample_rate: 48000, channels: 1 };
const CLIENT = [
  [W.C.Hello, { version: 1, token: 'tok.en' }],
  [W.C.Publish, { track_id: 1, config: video }],
  [W.C.Publish, { track_id: 2, config: audio }],
  [W.C.Publish, { track_id: 3, config: { kind: 'video', codec: 'vp8', width: 640, height: 360 } }],
  [W.C.Unpublish, { track_id: 1 }],
  [W.C.Subscribe, { track: 7 }],
  [W.C.Unsubscribe, { track: 7 }],
  [W.C.LayerPreference, { track: 7, max_temporal_layer: 1 }],
  [W.C.KeyframeRequest, { track: 7 }],
  [W.C.Ping, { nonce: 42 }],
  [W.C.Publish, { track_id: 4, config: { kind: 'video', codec: 'av1', width: 320, height: 180 }, simulcast_of: 1 }],
  [W.C.ViewSize, { track: 7, max_height: 180 }],
  [W.C.ViewSize, { track: 7, max_height: 0 }],
];
const SERVER = [
  [W.S.Welcome, { version: 1, participant: 4, room: 0, may_publish: true, server_time: 123456 }],
  [W.S.TrackAdded, { track: 7, participant: 4, config: video }],
  [W.S.TrackRemoved, { track: 7, participant: 4 }],
  [W.S.Roster, { participants: [{ id: 4, name: 'Ada', room: 0, may_publish: true }, { id: 5, name: 'Ünï', room: 2, may_publish: false }] }],
  [W.S.Roster, { participants: [] }],
  [W.S.Permission, { may_publish: false, room: 2 }],
  [W.S.RequestKeyframe, { track_id: 1 }],
  [W.S.AudioLevels, { levels: [{ track: 8, participant: 4, level: 30 }] }],
  [W.S.Error, { code: 'track_not_in_room', reason: 'track 7 is not in your room' }],
  [W.S.Pong, { nonce: 42, server_time: 123500 }],
  [W.S.Published, { track_id: 1, track: 7 }],
  [W.S.TrackWanted, { track_id: 1, wanted: false }],
];

test('every message round trips', () => {
  for (const [type, body] of CLIENT) eq(W.decodeControl(W.encodeControl(type, body), 'client').body, body);
  for (const [type, body] of SERVER) {
    const m = W.decodeControl(W.encodeControl(type, body), 'server');
    eq([m.type, m.body], [type, body]);
    eq(m.name, W.messageName(type));
  }
});

test('malformed control messages are refused with the Rust codes', () => {
  const oversizedMsg = concat(bytes(0, 1, 0, 1, 0x08), new Uint8Array(65536).fill(0x20));
  const badUtf8 = framed(0x01, '{"version":1,"token":"xx"}');
  badUtf8[badUtf8.length - 3] = 0xff;
  const table = [
    ['empty', bytes(), 'truncated'],
    ['short prefix', bytes(0, 0, 1), 'truncated'],
    ['zero length', bytes(0, 0, 0, 0), 'invalid_field'],
    ['length beyond input', bytes(0, 0, 0, 9, 0x08, 0x7b), 'truncated'],
    ['oversized prefix', bytes(0xff, 0xff, 0xff, 0xff, 0x08), 'oversized'],
    ['oversized message', oversizedMsg, 'oversized'],
    ['trailing bytes', concat(framed(0x08, '{"nonce":1}'), bytes(0)), 'trailing_bytes'],
    ['unknown type', framed(0x42, '{}'), 'unknown_message_type'],
    ['server type to server', framed(0x89, '{"nonce":1,"server_time":2}'), 'unknown_message_type'],
    ['not json', framed(0x08, 'nonce=1'), 'invalid_body'],
    ['array body', framed(0x08, '[1]'), 'invalid_body'],
    ['empty body', framed(0x08, ''), 'invalid_body'],
    ['missing field', framed(0x08, '{}'), 'invalid_body'],
    ['unknown field', framed(0x08, '{"nonce":1,"x":2}'), 'invalid_body'],
    ['wrong type', framed(0x08, '{"nonce":"1"}'), 'invalid_body'],
    ['negative', framed(0x04, '{"track":-1}'), 'invalid_body'],
    ['u32 overflow', framed(0x04, '{"track":4294967296}'), 'invalid_body'],
    ['bad version', framed(0x01, '{"version":2,"token":"t"}'), 'unsupported_version'],
    ['version zero', framed(0x01, '{"version":0,"token":"t"}'), 'unsupported_version'],
    ['layer 3', framed(0x06, '{"track":1,"max_temporal_layer":3}'), 'invalid_body'],
    ['bad utf-8', badUtf8, 'invalid_body'],
    ['bad codec config', framed(0x02, '{"track_id":1,"config":{"kind":"audio","codec":"av1","width":1,"height":1}}'), 'invalid_body'],
    ['simulcast_of negative', framed(0x02, '{"track_id":2,"config":{"kind":"video","codec":"av1","width":320,"height":180},"simulcast_of":-1}'), 'invalid_body'],
    ['view size too tall', framed(0x09, '{"track":1,"max_height":8193}'), 'invalid_body'],
    ['view size without height', framed(0x09, '{"track":1}'), 'invalid_body'],
    ['deep nesting', framed(0x08, `{"nonce":${'['.repeat(500)}1${']'.repeat(500)}}`), 'invalid_body'],
  ];
  for (const [name, b, code] of table) throwsCode(() => W.decodeControl(b, 'client'), code, name);
  // The client side: a client type arriving from the server is unknown too.
  throwsCode(() => W.decodeControl(framed(0x08, '{"nonce":1}'), 'server'), 'unknown_message_type', 'ping from server');
  throwsCode(() => W.decodeControl(framed(0xc0, '{}'), 'server'), 'unknown_message_type', 'reserved 0xc0');
  throwsCode(() => W.decodeControl(framed(0x81, '{"version":2,"participant":1,"room":0,"may_publish":true,"server_time":1}')),
    'unsupported_version', 'welcome v2');
  throwsCode(() => W.decodeControl(framed(0x87, '{"levels":[{"track":1,"participant":1,"level":128}]}')),
    'invalid_body', 'level 128');
  throwsCode(() => W.decodeControl(framed(0x84, '{"participants":[{"id":1,"name":"x","room":0}]}')),
    'invalid_body', 'roster entry missing field');
});

test('encoder refuses what the decoder would refuse', () => {
  throwsCode(() => W.encodeControl(W.C.Ping, {}), 'invalid_body');
  throwsCode(() => W.encodeControl(W.C.Ping, { nonce: 1, extra: 2 }), 'invalid_body');
  throwsCode(() => W.encodeControl(W.C.Hello, { version: 2, token: 't' }), 'unsupported_version');
  throwsCode(() => W.encodeControl(0x42, {}), 'unknown_message_type');
  throwsCode(() => W.encodeControl(W.S.Error, { code: 'x', reason: 'y'.repeat(65536) }), 'oversized');
});

test('TrackConfig rules (PROTOCOL §3.4)', () => {
  const ok = [audio, video, { kind: 'audio', codec: 'opus', sample_rate: 8000, channels: 2 },
    { kind: 'video', codec: 'vp8', width: 1, height: 8192 },
    { kind: 'video', codec: 'vp8', width: 2, height: 2, description: W.toBase64(new Uint8Array(1024)) }];
  for (const c of ok) eq(W.checkTrackConfig(c), null, JSON.stringify(c));
  const bad = [
    { kind: 'audio', codec: 'av1', width: 1, height: 1 },
    { kind: 'video', codec: 'h264', width: 1, height: 1 },
    { kind: 'audio', codec: 'opus', sample_rate: 44100, channels: 1 },
    { kind: 'audio', codec: 'opus', sample_rate: 48000, channels: 3 },
    { kind: 'audio', codec: 'opus', sample_rate: 48000 },
    { kind: 'audio', codec: 'opus', sample_rate: 48000, channels: 1, width: 1 },
    { kind: 'video', codec: 'av1', width: 0, height: 1 },
    { kind: 'video', codec: 'av1', width: 8193, height: 1 },
    { kind: 'video', codec: 'av1', width: 1, height: 1, channels: 1 },
    { kind: 'video', codec: 'av1', width: 1, height: 1, description: 'gQgMAA' },
    { kind: 'video', codec: 'av1', width: 1, height: 1, description: W.toBase64(new Uint8Array(1025)) },
    { kind: 'video', codec: 'av1', width: 1, height: 1, fps: 30 },
  ];
  for (const c of bad) {
    if (W.checkTrackConfig(c) === null) throw new Error(`accepted ${JSON.stringify(c)}`);
  }
});

test('ControlReader splits a byte stream at every chunk size', () => {
  const stream = concat(...SERVER.map(([t, b]) => W.encodeControl(t, b)));
  for (const size of [1, 2, 3, 7, 64, stream.length]) {
    const r = new W.ControlReader('server');
    const out = [];
    for (let i = 0; i < stream.length; i += size) {
      r.push(stream.subarray(i, i + size));
      for (let m = r.next(); m; m = r.next()) out.push([m.type, m.body]);
    }
    eq(out, SERVER, `chunk ${size}`);
    r.finish();
  }
});

test('ControlReader refuses an oversized prefix early, and a truncated end', () => {
  const r = new W.ControlReader('client');
  r.push(bytes(0x00, 0x01, 0x00));
  eq(r.next(), null);
  r.push(bytes(0x01));
  throwsCode(() => r.next(), 'oversized');
  const r2 = new W.ControlReader('server');
  r2.push(framed(0x89, '{"nonce":1,"server_time":2}').subarray(0, 6));
  eq(r2.next(), null);
  throwsCode(() => r2.finish(), 'truncated');
});

// ------------------------------------------------------------- media

test('frame headers round trip at varint boundaries', () => {
  const values = [0, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, 2 ** 53 - 1];
  for (const v of values) {
    for (const layer of [0, 1, 2]) {
      const h = { track: Math.min(v, 2 ** 32 - 1), group: v, sequence: v, timestamp: v, keyframe: layer === 0 && v % 2 === 0, layer };
      eq(W.decodeFrameHeader(W.encodeFrameHeader(h)), [h, W.frameHeaderLen(h)]);
    }
  }
  const now = 1_795_353_072_111_600; // a wall clock in µs
  const h = { track: 1, group: 1, sequence: 0, timestamp: now, keyframe: true, layer: 0 };
  eq(W.decodeFrameHeader(W.encodeFrameHeader(h))[0], h);
});

test('invalid frame headers are refused', () => {
  const table = [
    ['empty', bytes(), 'truncated'],
    ['reserved flag bit', bytes(0x08, 1, 1, 1, 1), 'invalid_field'],
    ['layer 3', bytes(0x06, 1, 1, 1, 1), 'invalid_field'],
    ['keyframe in layer 1', bytes(0x03, 1, 1, 1, 1), 'invalid_field'],
    ['track id over u32', bytes(0x00, 0xc1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1), 'invalid_field'],
    ['cut in track', bytes(0x00, 0x40), 'truncated'],
    ['cut before timestamp', bytes(0x00, 1, 1, 1), 'truncated'],
  ];
  for (const [name, b, code] of table) throwsCode(() => W.decodeFrameHeader(b), code, name);
  const base = { track: 1, group: 0, sequence: 0, timestamp: 0, keyframe: false, layer: 0 };
  throwsCode(() => W.encodeFrameHeader({ ...base, layer: 3 }), 'invalid_field', 'enc layer 3');
  throwsCode(() => W.encodeFrameHeader({ ...base, keyframe: true, layer: 1 }), 'invalid_field', 'enc key layer 1');
  throwsCode(() => W.encodeFrameHeader({ ...base, track: 2 ** 32 }), 'invalid_field', 'enc track');
  throwsCode(() => W.encodeFrameHeader({ ...base, group: -1 }), 'invalid_field', 'enc group');
});

test('datagrams: round trip, 1200-byte limit, errors', () => {
  const h = { track: 1, group: 0, sequence: 0, timestamp: 0, keyframe: true, layer: 0 };
  const full = W.encodeDatagram(h, new Uint8Array(1194).fill(7));
  eq(full.length, 1200);
  const back = W.decodeDatagram(full);
  eq(back.header, h);
  eq(back.payload.length, 1194);
  throwsCode(() => W.encodeDatagram(h, new Uint8Array(1195)), 'oversized', 'encode 1201');
  throwsCode(() => W.encodeDatagram(h, new Uint8Array(0)), 'invalid_field', 'encode empty');
  throwsCode(() => W.encodeDatagram(h, new Uint8Array(100), 50), 'oversized', 'encode over a smaller max');
  const h2 = { track: 70000, group: 0, sequence: 123456, timestamp: 1_795_353_072_111_600, keyframe: true, layer: 0 };
  const d = W.encodeDatagram(h2, bytes(1, 2, 3));
  eq(W.decodeDatagram(d), { header: h2, payload: bytes(1, 2, 3) });
  const table = [
    ['empty', bytes(), 'truncated'],
    ['unknown type', bytes(0x02, 0, 1, 0, 0, 0, 9), 'unknown_datagram_type'],
    ['no payload', bytes(0x01, 0, 1, 0, 0, 0), 'invalid_field'],
    ['cut header', bytes(0x01, 0, 1), 'truncated'],
    ['over 1200 bytes', concat(full, bytes(0)), 'oversized'],
  ];
  for (const [name, b, code] of table) throwsCode(() => W.decodeDatagram(b), code, name);
});

test('redundant datagrams: the bytes the Rust side reads, errors, copies once', () => {
  // header: flags 0x01, track 1, group 0, sequence 10, timestamp 1000; one copy 1 back, 20 µs earlier.
  const head = [0x02, 0x01, 0x01, 0x00, 0x0a, 0x43, 0xe8];
  const good = bytes(...head, 1, 1, 0x14, 1, 5, 6);
  const h = { track: 1, group: 0, sequence: 10, timestamp: 1000, keyframe: true, layer: 0 };
  const copy = { ...h, sequence: 9, timestamp: 980 };
  eq(W.decodeDatagramFrames(good), [
    { header: copy, payload: bytes(5), copy: true },
    { header: h, payload: bytes(6), copy: false },
  ]);
  eq(W.encodeRedundantDatagram(h, bytes(6), [{ header: copy, payload: bytes(5) }]), good);
  eq(W.decodeDatagramFrames(W.encodeDatagram(h, bytes(6))), [{ header: h, payload: bytes(6), copy: false }]);
  const table = [
    ['no count', bytes(...head), 'truncated'],
    ['count 0', bytes(...head, 0, 5), 'invalid_field'],
    ['count 3', bytes(...head, 3, 1, 0, 1, 5, 5), 'invalid_field'],
    ['back 0', bytes(...head, 1, 0, 0, 1, 5, 5), 'invalid_field'],
    ['back past sequence 0', bytes(...head, 1, 11, 0, 1, 5, 5), 'invalid_field'],
    ['not oldest first', bytes(...head, 2, 1, 0, 1, 5, 2, 0, 1, 5, 5), 'invalid_field'],
    ['timestamp before the epoch', bytes(...head, 1, 1, 0x44, 0x00, 1, 5, 5), 'invalid_field'],
    ['copy longer than the datagram', bytes(...head, 1, 1, 0, 9, 5), 'truncated'],
    ['empty copy', bytes(...head, 1, 1, 0, 0, 5), 'invalid_field'],
    ['no own payload', bytes(...head, 1, 1, 0, 1, 5), 'invalid_field'],
    ['cut in the copy', bytes(...head, 1, 1), 'truncated'],
    ['over 1200 bytes', concat(bytes(...head, 1, 1, 0, 1, 5, 5), new Uint8Array(1200)), 'oversized'],
    ['unknown type', bytes(0x03, 0, 1, 0, 0, 0, 9), 'unknown_datagram_type'],
  ];
  for (const [name, b, code] of table) throwsCode(() => W.decodeDatagramFrames(b), code, name);
  const p = bytes(9);
  const enc = [
    ['no copies', [], 'invalid_field'],
    ['other track', [{ header: { ...copy, track: 2 }, payload: p }], 'invalid_field'],
    ['a later frame', [{ header: { ...h, sequence: 11 }, payload: p }], 'invalid_field'],
    ['newest first', [{ header: copy, payload: p }, { header: { ...h, sequence: 8 }, payload: p }], 'invalid_field'],
    ['empty copy', [{ header: copy, payload: bytes() }], 'invalid_field'],
    ['too big', [{ header: copy, payload: new Uint8Array(1190) }], 'oversized'],
  ];
  for (const [name, earlier, code] of enc) throwsCode(() => W.encodeRedundantDatagram(h, p, earlier), code, name);

  const w = new W.SeqWindow();
  const seen = [1, 2, 4, 3, 4, 5, 5, 3, 1000, 0, 1].map((s) => w.firstTime(s));
  eq(seen, [true, true, true, true, false, true, false, false, true, true, true]);
});

const key = (track, group, sequence = 0) => ({ track, group, sequence, timestamp: 1000 + sequence, keyframe: true, layer: 0 });
const delta = (track, group, sequence, layer = 0) => ({ track, group, sequence, timestamp: 1000 + sequence, keyframe: false, layer });

test('stream header round trips and errors', () => {
  for (const sh of [{ kind: W.STREAM_VIDEO, track: 5, group: 300 }, { kind: W.STREAM_AUDIO, track: 2 ** 32 - 1, group: 0 }]) {
    const b = W.encodeStreamHeader(sh);
    eq(W.decodeStreamHeader(b), [sh, b.length]);
  }
  eq(W.encodeStreamHeader({ kind: 1, track: 5, group: 300 }), bytes(0x01, 0x05, 0x41, 0x2c));
  throwsCode(() => W.decodeStreamHeader(bytes(0x03, 1, 1)), 'unknown_stream_type');
  throwsCode(() => W.decodeStreamHeader(bytes(0x02, 1, 1)), 'invalid_field');
  throwsCode(() => W.encodeStreamHeader({ kind: 2, track: 1, group: 1 }), 'invalid_field');
  throwsCode(() => W.decodeStreamHeader(bytes(0x01, 0x40)), 'truncated');
});

test('StreamReader reads a video group split at every byte', () => {
  const frames = [key(5, 300, 10), delta(5, 300, 11, 2), delta(5, 300, 12, 1), delta(5, 300, 13, 2)];
  const payloads = frames.map((_, i) => new Uint8Array(50 + i * 300).fill(i + 1));
  const first = W.encodeStreamStart({ kind: W.STREAM_VIDEO, track: 5, group: 300 }, frames[0], payloads[0]);
  const stream = concat(first, ...frames.slice(1).map((f, i) => W.encodeStreamFrame(f, payloads[i + 1])));
  for (const size of [1, 2, 3, 5, 7, 64, 1000, stream.length]) {
    const r = new W.StreamReader();
    const out = [];
    for (let i = 0; i < stream.length; i += size) {
      r.push(stream.subarray(i, i + size));
      for (let f = r.next(); f; f = r.next()) out.push(f);
    }
    r.finish();
    eq(r.header(), { kind: 1, track: 5, group: 300 });
    eq(out.map((f) => f.header), frames, `chunk ${size}`);
    eq(out.map((f) => f.payload), payloads, `payloads, chunk ${size}`);
  }
});

test('StreamReader: audio stream frames are all keyframes', () => {
  const a = (s) => ({ track: 2, group: 0, sequence: s, timestamp: s * 20000, keyframe: true, layer: 0 });
  const stream = concat(W.encodeStreamHeader({ kind: W.STREAM_AUDIO, track: 2, group: 0 }),
    W.encodeStreamFrame(a(0), bytes(1)), W.encodeStreamFrame(a(1), new Uint8Array(1500).fill(3)));
  const r = new W.StreamReader();
  r.push(stream);
  eq(r.next().header, a(0));
  eq(r.next().payload.length, 1500);
  eq(r.next(), null);
  r.finish();
});

test('StreamReader refuses malformed streams with the Rust codes', () => {
  const vh = W.encodeStreamHeader({ kind: W.STREAM_VIDEO, track: 1, group: 1 });
  const s = (...frames) => concat(vh, ...frames.map((f) => W.encodeStreamFrame(f, bytes(9, 9))));
  const table = [
    ['unknown stream type', bytes(0x03, 1, 1), 'unknown_stream_type'],
    ['audio stream with a group', bytes(0x02, 1, 1), 'invalid_field'],
    ['frame of another track', s(key(2, 1)), 'invalid_field'],
    ['frame of another group', s(key(1, 2)), 'invalid_field'],
    ['group without keyframe', s(delta(1, 1, 1)), 'invalid_field'],
    ['second keyframe', s(key(1, 1), key(1, 1)), 'invalid_field'],
    ['oversized frame', concat(vh, bytes(0x80, 0x10, 0x00, 0x01)), 'oversized'],
    ['zero-length frame', concat(vh, bytes(0x00)), 'invalid_field'],
    ['length shorter than header', concat(vh, bytes(0x02, 0x01, 0x01)), 'invalid_field'],
    ['empty payload', concat(vh, bytes(0x05, 0x01, 0x01, 0x01, 0x00, 0x00)), 'invalid_field'],
  ];
  for (const [name, b, code] of table) {
    const r = new W.StreamReader();
    r.push(b);
    throwsCode(() => { while (r.next()); }, code, name);
  }
  throwsCode(() => W.encodeStreamFrame(key(1, 1), new Uint8Array(1 << 20)), 'oversized', 'encode 1 MiB payload');
  const cut = new W.StreamReader();
  cut.push(s(key(1, 1)).subarray(0, vh.length + 3));
  eq(cut.next(), null);
  throwsCode(() => cut.finish(), 'truncated', 'ends inside a frame');
  const none = new W.StreamReader();
  none.push(bytes(0x01));
  throwsCode(() => none.finish(), 'truncated', 'ends inside the header');
});

test('base64 helpers are strict and exact', () => {
  const b = new Uint8Array(300).map((_, i) => (i * 37) & 0xff);
  eq(W.fromBase64(W.toBase64(b)), b);
  eq(W.toBase64(bytes(0x81, 0x08, 0x0c, 0x00)), 'gQgMAA==');
  throwsCode(() => W.fromBase64('gQgMAA'), 'Error');
  throwsCode(() => W.fromBase64('gQ-MAA=='), 'Error');
});

test('TrackConfig source says what a track carries, matching its kind', () => {
  const video = { kind: 'video', codec: 'av1', width: 640, height: 360 };
  const audio = { kind: 'audio', codec: 'opus', sample_rate: 48000, channels: 1 };
  eq(W.checkTrackConfig({ ...video, source: 'camera' }), null);
  eq(W.checkTrackConfig({ ...video, source: 'screen' }), null);
  eq(W.checkTrackConfig({ ...audio, source: 'microphone' }), null);
  eq(W.checkTrackConfig(video), null);
  for (const bad of [{ ...video, source: 'microphone' }, { ...audio, source: 'screen' }, { ...video, source: 'webcam' }]) {
    if (W.checkTrackConfig(bad) === null) throw new Error(`accepted ${JSON.stringify(bad)}`);
  }
});

console.log(`${passed} passed, ${failed} failed`);
if (failed) process.exitCode = 1;
