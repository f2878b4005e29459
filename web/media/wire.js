// Podium media protocol v1, the wire format (media/PROTOCOL.md): control
// framing (u32 BE length + type byte + JSON object), every control message,
// the media frame header (flags byte + QUIC varints), audio datagrams, and
// unidirectional streams (stream header + length-prefixed frames), with
// incremental readers that accept chunks split anywhere.
//
// Pure JavaScript with no browser APIs beyond TextEncoder/TextDecoder and
// atob/btoa, so `node web/media/wire.test.mjs` runs it as is. Decoders throw
// `WireError` (its `code` is PROTOCOL.md §6's: truncated, oversized, ...);
// encoders check the same rules, so what they write always decodes.
//
// Numbers: ids, groups, sequences and timestamps are JS numbers. Varints up to
// 2^53 - 1 decode exactly; a larger one (legal on the wire up to 2^62 - 1) is
// refused as `invalid_field` because JavaScript could not read it exactly.

export const PROTOCOL_VERSION = 1;
export const MAX_MESSAGE_LEN = 64 * 1024; // control length prefix (type + body)
export const MAX_DATAGRAM_SIZE = 1200; // type byte included
export const MAX_FRAME_SIZE = 1 << 20; // stream frame: header + payload
export const MAX_DESCRIPTION = 1024; // codec description, decoded bytes
export const MAX_TEMPORAL_LAYER = 2;
export const MAX_DIMENSION = 8192;
export const DATAGRAM_FRAME = 0x01;
export const DATAGRAM_REDUNDANT = 0x02; // a frame + copies of the ones before it
export const MAX_REDUNDANT_FRAMES = 2;
export const MAX_REDUNDANT_BACK = 15;
export const STREAM_VIDEO = 0x01;
export const STREAM_AUDIO = 0x02;
export const MAX_VARINT = 2 ** 62 - 1;
const U32_MAX = 2 ** 32 - 1;

/** Client → server message types. */
export const C = Object.freeze({
  Hello: 0x01, Publish: 0x02, Unpublish: 0x03, Subscribe: 0x04,
  Unsubscribe: 0x05, LayerPreference: 0x06, KeyframeRequest: 0x07, Ping: 0x08,
  ViewSize: 0x09,
});
/** Server → client message types. */
export const S = Object.freeze({
  Welcome: 0x81, TrackAdded: 0x82, TrackRemoved: 0x83, Roster: 0x84,
  Permission: 0x85, RequestKeyframe: 0x86, AudioLevels: 0x87, Error: 0x88,
  Pong: 0x89, Published: 0x8a, TrackWanted: 0x8b,
});

/** Undecodable input (or an unencodable value); `code` as in PROTOCOL.md §6. */
export class WireError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'WireError';
    this.code = code;
  }
}
const truncated = (what) => new WireError('truncated', `truncated ${what}`);
const invalidField = (field, reason) => new WireError('invalid_field', `invalid ${field}: ${reason}`);
const oversized = (what, len, max) =>
  new WireError('oversized', `${what} is ${len} bytes, more than the limit of ${max}`);

// ---------------------------------------------------------------- varints

/** Encoded length of a varint (shortest form). */
export function varintLen(v) {
  return v < 0x40 ? 1 : v < 0x4000 ? 2 : v < 0x40000000 ? 4 : 8;
}

function checkVarint(v, field) {
  if (!Number.isSafeInteger(v) || v < 0) throw invalidField(field, 'not an integer in 0..2^53-1');
}

/** Writes `v` in its shortest form into `out` at `at`; returns the new offset. */
export function putVarint(out, at, v) {
  if (v < 0x40) {
    out[at] = v;
    return at + 1;
  }
  if (v < 0x4000) {
    out[at] = 0x40 | (v >> 8);
    out[at + 1] = v & 0xff;
    return at + 2;
  }
  if (v < 0x40000000) {
    out[at] = 0x80 | (v >>> 24);
    out[at + 1] = (v >>> 16) & 0xff;
    out[at + 2] = (v >>> 8) & 0xff;
    out[at + 3] = v & 0xff;
    return at + 4;
  }
  const hi = Math.floor(v / 2 ** 32);
  const lo = v >>> 0;
  out[at] = 0xc0 | (hi >>> 24);
  out[at + 1] = (hi >>> 16) & 0xff;
  out[at + 2] = (hi >>> 8) & 0xff;
  out[at + 3] = hi & 0xff;
  out[at + 4] = lo >>> 24;
  out[at + 5] = (lo >>> 16) & 0xff;
  out[at + 6] = (lo >>> 8) & 0xff;
  out[at + 7] = lo & 0xff;
  return at + 8;
}

/** A varint as bytes (shortest form). */
export function encodeVarint(v) {
  checkVarint(v, 'varint');
  const out = new Uint8Array(varintLen(v));
  putVarint(out, 0, v);
  return out;
}

/**
 * Reads a varint at `at` (non-shortest forms accepted); returns [value, bytesUsed].
 * Throws `truncated` if `bytes` ends inside it.
 */
export function readVarint(bytes, at, what = 'varint') {
  if (at >= bytes.length) throw truncated(what);
  const first = bytes[at];
  const n = 1 << (first >> 6);
  if (at + n > bytes.length) throw truncated(what);
  let v = first & 0x3f;
  for (let i = 1; i < n; i++) v = v * 256 + bytes[at + i];
  if (v > Number.MAX_SAFE_INTEGER) throw invalidField(what, 'larger than 2^53 - 1 (not exact in JavaScript)');
  return [v, n];
}

// ---------------------------------------------------------------- base64

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard padded base64 of bytes. */
export function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Bytes of standard padded base64; throws on anything else. */
export function fromBase64(text) {
  if (typeof text !== 'string' || !B64_RE.test(text)) throw new Error('not padded standard base64');
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// ---------------------------------------------------------------- bodies

// Field checkers: each returns an error string, or null when the value is fine.
const isInt = (v, max) => Number.isSafeInteger(v) && v >= 0 && v <= max;
const u8 = (v) => (isInt(v, 255) ? null : 'must be an integer 0..=255');
const u32 = (v) => (isInt(v, U32_MAX) ? null : 'must be an integer 0..=4294967295');
const u64 = (v) => (isInt(v, Number.MAX_SAFE_INTEGER) ? null : 'must be an integer 0..=2^53-1');
const bool = (v) => (typeof v === 'boolean' ? null : 'must be a boolean');
const str = (v) => (typeof v === 'string' ? null : 'must be a string');
const layer = (v) => u8(v) ?? (v <= MAX_TEMPORAL_LAYER ? null : 'max_temporal_layer must be 0, 1 or 2');
const level = (v) => u8(v) ?? (v <= 127 ? null : 'level must be 0..=127');
const version = (v) => u32(v) ?? (v === PROTOCOL_VERSION ? null : { version: v });
const arrayOf = (schema) => (v) => {
  if (!Array.isArray(v)) return 'must be an array';
  for (const item of v) {
    const e = checkObject(item, schema);
    if (e) return e;
  }
  return null;
};
const trackConfig = (v) => checkTrackConfig(v);
const height = (v) => u32(v) ?? (v <= 8192 ? null : 'max_height must be at most 8192');
// A field that may be absent (checked when present).
const optional = (check) => Object.assign((v) => check(v), { optional: true });

const SCHEMAS = {
  [C.Hello]: ['Hello', { version, token: str }],
  [C.Publish]: ['Publish', { track_id: u32, config: trackConfig, simulcast_of: optional(u32) }],
  [C.Unpublish]: ['Unpublish', { track_id: u32 }],
  [C.Subscribe]: ['Subscribe', { track: u32 }],
  [C.Unsubscribe]: ['Unsubscribe', { track: u32 }],
  [C.LayerPreference]: ['LayerPreference', { track: u32, max_temporal_layer: layer }],
  [C.KeyframeRequest]: ['KeyframeRequest', { track: u32 }],
  [C.Ping]: ['Ping', { nonce: u64 }],
  [C.ViewSize]: ['ViewSize', { track: u32, max_height: height }],
  [S.Welcome]: ['Welcome', { version, participant: u64, room: u32, may_publish: bool, server_time: u64 }],
  [S.TrackAdded]: ['TrackAdded', { track: u32, participant: u64, config: trackConfig }],
  [S.TrackRemoved]: ['TrackRemoved', { track: u32, participant: u64 }],
  [S.Roster]: ['Roster', { participants: arrayOf({ id: u64, name: str, room: u32, may_publish: bool }) }],
  [S.Permission]: ['Permission', { may_publish: bool, room: u32 }],
  [S.RequestKeyframe]: ['RequestKeyframe', { track_id: u32 }],
  [S.AudioLevels]: ['AudioLevels', { levels: arrayOf({ track: u32, participant: u64, level }) }],
  [S.Error]: ['Error', { code: str, reason: str }],
  [S.Pong]: ['Pong', { nonce: u64, server_time: u64 }],
  [S.Published]: ['Published', { track_id: u32, track: u32 }],
  [S.TrackWanted]: ['TrackWanted', { track_id: u32, wanted: bool }],
};

/** The message name of a type byte ('Ping'), or undefined. */
export function messageName(type) {
  return SCHEMAS[type]?.[0];
}

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// Checks an object against { field: checker }: every field present, no other.
function checkObject(obj, schema) {
  if (!isPlainObject(obj)) return 'must be a JSON object';
  for (const key of Object.keys(obj)) {
    if (!Object.hasOwn(schema, key)) return `unknown field \`${key}\``;
  }
  for (const [key, check] of Object.entries(schema)) {
    if (!Object.hasOwn(obj, key)) {
      if (check.optional) continue;
      return `missing field \`${key}\``;
    }
    const e = check(obj[key]);
    if (e) return typeof e === 'string' ? `${key}: ${e}` : e;
  }
  return null;
}

const AUDIO_RATES = [8000, 12000, 16000, 24000, 48000];
const CODEC_KIND = { opus: 'audio', av1: 'video', vp8: 'video' };
const TRACK_CONFIG_FIELDS = ['kind', 'codec', 'sample_rate', 'channels', 'width', 'height', 'description', 'source'];

/** Checks a TrackConfig (PROTOCOL.md §3.4); returns an error string or null. */
export function checkTrackConfig(c) {
  if (!isPlainObject(c)) return 'config must be a JSON object';
  for (const key of Object.keys(c)) {
    if (!TRACK_CONFIG_FIELDS.includes(key)) return `unknown field \`${key}\``;
  }
  if (c.kind !== 'audio' && c.kind !== 'video') return 'kind must be "audio" or "video"';
  if (!Object.hasOwn(CODEC_KIND, c.codec)) return 'codec must be "opus", "av1" or "vp8"';
  if (CODEC_KIND[c.codec] !== c.kind) return 'kind does not match codec';
  const has = (k) => c[k] !== undefined;
  if (c.kind === 'audio') {
    if (!has('sample_rate') || !has('channels') || has('width') || has('height')) {
      return 'audio needs sample_rate and channels, and no width or height';
    }
    if (!AUDIO_RATES.includes(c.sample_rate)) return 'sample_rate must be 8000, 12000, 16000, 24000 or 48000';
    if (c.channels !== 1 && c.channels !== 2) return 'channels must be 1 or 2';
  } else {
    if (!has('width') || !has('height') || has('sample_rate') || has('channels')) {
      return 'video needs width and height, and no sample_rate or channels';
    }
    const dim = (v) => Number.isInteger(v) && v >= 1 && v <= MAX_DIMENSION;
    if (!dim(c.width) || !dim(c.height)) return 'width and height must be 1..=8192';
  }
  if (has('source')) {
    const ok = c.kind === 'video' ? c.source === 'camera' || c.source === 'screen' : c.source === 'microphone';
    if (!ok) return 'source must be camera or screen for video, microphone for audio';
  }
  if (has('description')) {
    let bytes;
    try {
      bytes = fromBase64(c.description);
    } catch {
      return 'description is not padded standard base64';
    }
    if (bytes.length > MAX_DESCRIPTION) return 'description is longer than 1024 bytes';
  }
  return null;
}

function checkBody(type, body, what) {
  const schema = SCHEMAS[type];
  if (!schema) throw new WireError('unknown_message_type', `unknown control message type 0x${hex(type)}`);
  const [name, fields] = schema;
  const e = checkObject(body, fields);
  if (e && typeof e === 'object') {
    throw new WireError('unsupported_version',
      `unsupported protocol version ${e.version}, this side speaks version ${PROTOCOL_VERSION}`);
  }
  if (e) throw new WireError('invalid_body', `invalid ${name} ${what}: ${e}`);
  return name;
}

const hex = (b) => b.toString(16).padStart(2, '0');

// ---------------------------------------------------------------- control

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * A framed control message: u32 BE length, type byte, JSON body. The body is
 * checked against the type's schema (unknown or missing fields throw).
 */
export function encodeControl(type, body) {
  checkBody(type, body, 'body');
  const json = textEncoder.encode(JSON.stringify(body));
  const len = 1 + json.length;
  if (len > MAX_MESSAGE_LEN) throw oversized('control message', len, MAX_MESSAGE_LEN);
  const out = new Uint8Array(4 + len);
  new DataView(out.buffer).setUint32(0, len);
  out[4] = type;
  out.set(json, 5);
  return out;
}

// Which type bytes a reader of each direction accepts.
const DIRECTION = {
  server: (t) => t >= 0x81 && t <= 0x8b, // a client reads what the server sends
  client: (t) => t >= 0x01 && t <= 0x09,
};

// Total framed length (prefix included) once 4 bytes are there, else null.
function frameLen(bytes, at, end) {
  if (end - at < 4) return null;
  const len = ((bytes[at] << 24) >>> 0) + (bytes[at + 1] << 16) + (bytes[at + 2] << 8) + bytes[at + 3];
  if (len === 0) throw invalidField('control message length', 'zero; it must count the type byte');
  if (len > MAX_MESSAGE_LEN) throw oversized('control message', len, MAX_MESSAGE_LEN);
  return 4 + len;
}

function decodeMessage(bytes, direction) {
  const type = bytes[4];
  if (!DIRECTION[direction](type)) {
    throw new WireError('unknown_message_type', `unknown control message type 0x${hex(type)}`);
  }
  const name = messageName(type);
  const raw = bytes.subarray(5);
  let body;
  try {
    const text = textDecoder.decode(raw);
    if (text.trimStart()[0] !== '{') throw new Error('the body must be a JSON object');
    body = JSON.parse(text);
  } catch (e) {
    throw new WireError('invalid_body', `invalid ${name} body: ${e.message}`);
  }
  checkBody(type, body, 'body');
  return { type, name, body };
}

/**
 * Decodes exactly one framed message. `direction` is who sent it: 'server'
 * (default: what a client reads) or 'client'.
 */
export function decodeControl(bytes, direction = 'server') {
  const len = frameLen(bytes, 0, bytes.length);
  if (len === null || bytes.length < len) throw truncated('control message');
  if (bytes.length > len) {
    throw new WireError('trailing_bytes', `${bytes.length - len} unexpected bytes after control message`);
  }
  return decodeMessage(bytes, direction);
}

/** A growable byte queue for the incremental readers. */
class ByteQueue {
  constructor() {
    this.buf = new Uint8Array(4096);
    this.start = 0;
    this.end = 0;
  }
  get length() {
    return this.end - this.start;
  }
  push(chunk) {
    if (chunk.length === 0) return;
    if (this.end + chunk.length > this.buf.length) {
      const len = this.length;
      if (len + chunk.length > this.buf.length) {
        let size = this.buf.length;
        while (size < len + chunk.length) size *= 2;
        const next = new Uint8Array(size);
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      } else {
        this.buf.copyWithin(0, this.start, this.end);
      }
      this.start = 0;
      this.end = len;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }
  /** The buffered bytes (a view, valid until the next push). */
  view() {
    return this.buf.subarray(this.start, this.end);
  }
  /** Removes and returns a copy of the first n bytes. */
  take(n) {
    const out = this.buf.slice(this.start, this.start + n);
    this.skip(n);
    return out;
  }
  skip(n) {
    this.start += n;
    if (this.start === this.end) this.start = this.end = 0;
  }
}

/**
 * Incremental decoder for one direction of the control stream: `push(chunk)`
 * then `next()` until it returns null. An oversized length prefix throws as
 * soon as its 4 bytes are in. After a throw the stream is unusable.
 */
export class ControlReader {
  constructor(direction = 'server') {
    this.direction = direction;
    this.queue = new ByteQueue();
  }
  push(chunk) {
    this.queue.push(chunk);
  }
  /** The next {type, name, body}, or null if more bytes are needed. */
  next() {
    const view = this.queue.view();
    const len = frameLen(view, 0, view.length);
    if (len === null || view.length < len) return null;
    const frame = this.queue.take(len);
    return decodeMessage(frame, this.direction);
  }
  get buffered() {
    return this.queue.length;
  }
  /** Call when the stream ends: an unfinished message is an error. */
  finish() {
    if (this.queue.length !== 0) throw truncated('control message');
  }
}

// ---------------------------------------------------------------- media

const FLAG_KEYFRAME = 0x01;
const LAYER_MASK = 0x06;

/** Checks a frame header {track, group, sequence, timestamp, keyframe, layer}. */
export function checkFrameHeader(h) {
  if (!isInt(h.track, U32_MAX)) throw invalidField('track id', 'larger than 2^32 - 1 or not an integer');
  const layerId = h.layer ?? 0;
  if (!Number.isInteger(layerId) || layerId < 0 || layerId > MAX_TEMPORAL_LAYER) {
    throw invalidField('temporal layer', 'must be 0, 1 or 2');
  }
  if (h.keyframe && layerId !== 0) throw invalidField('temporal layer', 'a keyframe is in layer 0');
  checkVarint(h.group, 'group');
  checkVarint(h.sequence, 'sequence');
  checkVarint(h.timestamp, 'timestamp');
}

/** Encoded length of a frame header. */
export function frameHeaderLen(h) {
  return 1 + varintLen(h.track) + varintLen(h.group) + varintLen(h.sequence) + varintLen(h.timestamp);
}

function putFrameHeader(out, at, h) {
  out[at] = ((h.layer ?? 0) << 1) | (h.keyframe ? FLAG_KEYFRAME : 0);
  at = putVarint(out, at + 1, h.track);
  at = putVarint(out, at, h.group);
  at = putVarint(out, at, h.sequence);
  return putVarint(out, at, h.timestamp);
}

/** A frame header as bytes: flags, track, group, sequence, timestamp (µs). */
export function encodeFrameHeader(h) {
  checkFrameHeader(h);
  const out = new Uint8Array(frameHeaderLen(h));
  putFrameHeader(out, 0, h);
  return out;
}

/** Reads a frame header at `at`; returns [header, bytesUsed]. */
export function decodeFrameHeader(bytes, at = 0) {
  if (at >= bytes.length) throw truncated('frame flags');
  const flags = bytes[at];
  if (flags & ~(FLAG_KEYFRAME | LAYER_MASK)) throw invalidField('frame flags', 'reserved bits 3-7 must be zero');
  let p = at + 1;
  const [track, n1] = readVarint(bytes, p, 'track id');
  p += n1;
  if (track > U32_MAX) throw invalidField('track id', 'larger than 2^32 - 1');
  const [group, n2] = readVarint(bytes, p, 'group');
  p += n2;
  const [sequence, n3] = readVarint(bytes, p, 'sequence');
  p += n3;
  const [timestamp, n4] = readVarint(bytes, p, 'timestamp');
  p += n4;
  const header = {
    track, group, sequence, timestamp,
    keyframe: (flags & FLAG_KEYFRAME) !== 0,
    layer: (flags & LAYER_MASK) >> 1,
  };
  if (header.layer > MAX_TEMPORAL_LAYER) throw invalidField('temporal layer', 'must be 0, 1 or 2');
  if (header.keyframe && header.layer !== 0) throw invalidField('temporal layer', 'a keyframe is in layer 0');
  return [header, p - at];
}

function checkPayload(payload) {
  if (!payload || payload.length === 0) throw invalidField('payload', 'empty');
}

/** Size of the datagram for a header and a payload length. */
export function datagramLen(h, payloadLen) {
  return 1 + frameHeaderLen(h) + payloadLen;
}

/** An audio datagram: 0x01, frame header, payload; at most 1200 bytes. */
export function encodeDatagram(h, payload, max = MAX_DATAGRAM_SIZE) {
  checkFrameHeader(h);
  checkPayload(payload);
  const len = datagramLen(h, payload.length);
  if (len > max) throw oversized('datagram', len, max);
  const out = new Uint8Array(len);
  out[0] = DATAGRAM_FRAME;
  const at = putFrameHeader(out, 1, h);
  out.set(payload, at);
  return out;
}

/** Decodes a datagram into {header, payload} (payload is a view). */
export function decodeDatagram(bytes) {
  if (bytes.length > MAX_DATAGRAM_SIZE) throw oversized('datagram', bytes.length, MAX_DATAGRAM_SIZE);
  if (bytes.length === 0) throw truncated('datagram type');
  if (bytes[0] !== DATAGRAM_FRAME) {
    throw new WireError('unknown_datagram_type', `unknown datagram type 0x${hex(bytes[0])}`);
  }
  const [header, n] = decodeFrameHeader(bytes, 1);
  const payload = bytes.subarray(1 + n);
  checkPayload(payload);
  return { header, payload };
}

/**
 * A redundant audio datagram (PROTOCOL.md §4.3): the frame `h`/`payload` with
 * copies of `earlier` frames of the track ([{header, payload}], oldest first):
 * 0x02, header, count, count × (back u8, timestamp back varint, length varint,
 * payload), payload. Throws like the Rust encoder (same checks, nothing half made).
 */
export function encodeRedundantDatagram(h, payload, earlier, max = MAX_DATAGRAM_SIZE) {
  checkFrameHeader(h);
  checkPayload(payload);
  if (earlier.length === 0 || earlier.length > MAX_REDUNDANT_FRAMES) {
    throw invalidField('redundant frames', 'a redundant datagram carries 1 or 2 earlier frames');
  }
  let len = 1 + frameHeaderLen(h) + 1 + payload.length;
  let lastBack = MAX_REDUNDANT_BACK + 1;
  for (const e of earlier) {
    checkPayload(e.payload);
    const back = h.sequence - e.header.sequence;
    if (e.header.track !== h.track || back < 1 || back > MAX_REDUNDANT_BACK || back >= lastBack
      || e.header.timestamp > h.timestamp) {
      throw invalidField('redundant frames', 'copies must be earlier frames of the track, oldest first, at most 15 back');
    }
    lastBack = back;
    len += 1 + varintLen(h.timestamp - e.header.timestamp) + varintLen(e.payload.length) + e.payload.length;
  }
  if (len > max) throw oversized('datagram', len, max);
  const out = new Uint8Array(len);
  out[0] = DATAGRAM_REDUNDANT;
  let at = putFrameHeader(out, 1, h);
  out[at++] = earlier.length;
  for (const e of earlier) {
    out[at++] = h.sequence - e.header.sequence;
    at = putVarint(out, at, h.timestamp - e.header.timestamp);
    at = putVarint(out, at, e.payload.length);
    out.set(e.payload, at);
    at += e.payload.length;
  }
  out.set(payload, at);
  return out;
}

/**
 * Decodes a datagram of either type into its frames, oldest first:
 * [{header, payload, copy}] where `copy` marks the earlier frames a redundant
 * datagram repeats (payloads are views).
 */
export function decodeDatagramFrames(bytes) {
  if (bytes.length === 0 || bytes[0] !== DATAGRAM_REDUNDANT) {
    const { header, payload } = decodeDatagram(bytes);
    return [{ header, payload, copy: false }];
  }
  if (bytes.length > MAX_DATAGRAM_SIZE) throw oversized('datagram', bytes.length, MAX_DATAGRAM_SIZE);
  const [header, n] = decodeFrameHeader(bytes, 1);
  let at = 1 + n;
  if (at >= bytes.length) throw truncated('redundant frame count');
  const count = bytes[at++];
  if (count === 0 || count > MAX_REDUNDANT_FRAMES) throw invalidField('redundant frame count', 'must be 1 or 2');
  const frames = [];
  let lastBack = MAX_REDUNDANT_BACK + 1;
  for (let i = 0; i < count; i++) {
    if (at >= bytes.length) throw truncated('redundant frame');
    const back = bytes[at++];
    if (back === 0 || back >= lastBack || back > header.sequence) {
      throw invalidField('redundant frame', 'must lie 1 to 15 frames back, oldest first');
    }
    lastBack = back;
    const [tsBack, k1] = readVarint(bytes, at, 'redundant frame timestamp');
    at += k1;
    if (tsBack > header.timestamp) throw invalidField('redundant frame timestamp', 'before the epoch');
    const [len, k2] = readVarint(bytes, at, 'redundant frame length');
    at += k2;
    if (at + len > bytes.length) throw truncated('redundant frame payload');
    const payload = bytes.subarray(at, at + len);
    checkPayload(payload);
    at += len;
    frames.push({
      header: { ...header, sequence: header.sequence - back, timestamp: header.timestamp - tsBack },
      payload,
      copy: true,
    });
  }
  const payload = bytes.subarray(at);
  checkPayload(payload);
  frames.push({ header, payload, copy: false });
  return frames;
}

/**
 * Which of a track's last 64 sequence numbers arrived (the Rust `SeqWindow`):
 * with redundant datagrams a frame comes alone and again as a copy; take it once.
 */
export class SeqWindow {
  constructor() {
    this.newest = -1;
    this.seen = new Uint8Array(64); // ring: seen[seq % 64] === 1 if seq arrived
  }

  /** Marks `seq`; false if it had arrived. 64 or more below the newest: counting started again. */
  firstTime(seq) {
    if (this.newest >= 0 && seq <= this.newest && this.newest - seq < 64) {
      const first = this.seen[seq % 64] === 0;
      this.seen[seq % 64] = 1;
      return first;
    }
    if (this.newest >= 0 && seq > this.newest) {
      for (let s = Math.max(this.newest + 1, seq - 63); s < seq; s++) this.seen[s % 64] = 0;
    } else {
      this.seen.fill(0);
    }
    this.seen[seq % 64] = 1;
    this.newest = seq;
    return true;
  }
}

/** A stream header {kind: STREAM_VIDEO|STREAM_AUDIO, track, group} as bytes. */
export function encodeStreamHeader({ kind, track, group }) {
  if (kind !== STREAM_VIDEO && kind !== STREAM_AUDIO) {
    throw new WireError('unknown_stream_type', `unknown stream type 0x${hex(kind)}`);
  }
  if (!isInt(track, U32_MAX)) throw invalidField('track id', 'larger than 2^32 - 1 or not an integer');
  checkVarint(group, 'group');
  if (kind === STREAM_AUDIO && group !== 0) throw invalidField('group', 'must be 0 on an audio stream');
  const out = new Uint8Array(1 + varintLen(track) + varintLen(group));
  out[0] = kind;
  putVarint(out, putVarint(out, 1, track), group);
  return out;
}

/** Reads a stream header; returns [{kind, track, group}, bytesUsed]. */
export function decodeStreamHeader(bytes, at = 0) {
  if (at >= bytes.length) throw truncated('stream type');
  const kind = bytes[at];
  if (kind !== STREAM_VIDEO && kind !== STREAM_AUDIO) {
    throw new WireError('unknown_stream_type', `unknown stream type 0x${hex(kind)}`);
  }
  const [track, n1] = readVarint(bytes, at + 1, 'track id');
  if (track > U32_MAX) throw invalidField('track id', 'larger than 2^32 - 1');
  const [group, n2] = readVarint(bytes, at + 1 + n1, 'group');
  if (kind === STREAM_AUDIO && group !== 0) throw invalidField('group', 'must be 0 on an audio stream');
  return [{ kind, track, group }, 1 + n1 + n2];
}

/** One stream frame: varint length (header + payload), header, payload. */
export function encodeStreamFrame(h, payload) {
  checkFrameHeader(h);
  checkPayload(payload);
  const hl = frameHeaderLen(h);
  const len = hl + payload.length;
  if (len > MAX_FRAME_SIZE) throw oversized('stream frame', len, MAX_FRAME_SIZE);
  const out = new Uint8Array(varintLen(len) + len);
  const at = putFrameHeader(out, putVarint(out, 0, len), h);
  out.set(payload, at);
  return out;
}

/** Stream header followed by its first frame, in one buffer (one write). */
export function encodeStreamStart(streamHeader, h, payload) {
  const a = encodeStreamHeader(streamHeader);
  const b = encodeStreamFrame(h, payload);
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Incremental decoder for one unidirectional media stream. `push(chunk)`, then
 * `header()` (null until readable) and `next()` until null. Checks each frame
 * belongs to the stream (same track and group; in a video group the first
 * frame, and only the first, is a keyframe). After a throw, stop reading.
 */
export class StreamReader {
  constructor() {
    this.queue = new ByteQueue();
    this.stream = null;
    this.frames = 0;
  }
  push(chunk) {
    this.queue.push(chunk);
  }
  /** {kind, track, group}, or null until enough bytes arrived. */
  header() {
    if (this.stream) return this.stream;
    let parsed;
    try {
      parsed = decodeStreamHeader(this.queue.view());
    } catch (e) {
      if (e.code === 'truncated') return null;
      throw e;
    }
    this.queue.skip(parsed[1]);
    this.stream = parsed[0];
    return this.stream;
  }
  /** The next {header, payload} (payload is a copy), or null if more bytes are needed. */
  next() {
    const stream = this.header();
    if (!stream) return null;
    const view = this.queue.view();
    let len;
    let n;
    try {
      [len, n] = readVarint(view, 0, 'stream frame length');
    } catch (e) {
      if (e.code === 'truncated') return null;
      throw e;
    }
    if (len > MAX_FRAME_SIZE) throw oversized('stream frame', len, MAX_FRAME_SIZE);
    if (view.length < n + len) return null;
    const frame = this.queue.take(n + len).subarray(n);
    let header;
    let hl;
    try {
      [header, hl] = decodeFrameHeader(frame, 0);
    } catch (e) {
      if (e.code === 'truncated') throw invalidField('stream frame length', 'shorter than the frame header');
      throw e;
    }
    const payload = frame.subarray(hl);
    checkPayload(payload);
    if (header.track !== stream.track) throw invalidField('track id', "frame's track differs from the stream's");
    if (header.group !== stream.group) throw invalidField('group', "frame's group differs from the stream's");
    if (stream.kind === STREAM_VIDEO && header.keyframe !== (this.frames === 0)) {
      throw invalidField('keyframe flag', 'a video group starts with its only keyframe');
    }
    this.frames += 1;
    return { header, payload };
  }
  /** Call when the stream ends: a missing header or an unfinished frame is an error. */
  finish() {
    if (!this.stream) throw truncated('stream header');
    if (this.queue.length !== 0) throw truncated('stream frame');
  }
}

/** Close codes of the WebTransport session (PROTOCOL.md §6) and their meaning. */
export const CLOSE_CODES = Object.freeze({
  0: 'normal',
  1: 'protocol error',
  2: 'unsupported protocol version',
  3: 'token or Origin refused',
  4: 'replaced by a newer connection',
  5: 'removed by a moderator',
});
