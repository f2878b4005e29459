// Sending one published track's frames over WebTransport (PROTOCOL.md §4).
//
// Video (VideoSender): one unidirectional stream per group of pictures. A
// keyframe opens a new stream (stream header + the keyframe in one write, with
// `sendOrder` = group id so a newer group goes first where the browser honours
// it) and finishes (FIN) the previous group's stream after its last frame.
// Stream creation is asynchronous, so every operation of a track runs on one
// promise chain and frames keep their order. Congestion on our own uplink is
// measured as bytes handed to the stream but not yet accepted by it: above
// 256 KiB, layer-2 frames are skipped (nothing depends on them in L1T3); above
// 1 MiB the group's stream is reset and the encoder restarts at a keyframe.
//
// Audio (AudioSender): one datagram per Opus frame (0x01 + header + payload;
// over WebTransport 0x02, which also carries a copy of the previous frame, so
// one lost datagram loses no audio: PROTOCOL.md §4.3) when it fits the limit (1200 bytes, the connection's maxDatagramSize, or a
// lower test limit); otherwise the frame goes on the track's audio stream
// (kind 0x02), opened when first needed and kept open. With a second of audio
// already queued for the datagram writer, new frames are dropped (stale audio
// is worth nothing).

import * as W from './wire.js';

export const AUDIO_SEND_ORDER = Number.MAX_SAFE_INTEGER; // audio streams before any video group
const INFLIGHT_DROP_LAYER2 = 256 * 1024;
const INFLIGHT_RESET_GROUP = 1024 * 1024;

// Writes without awaiting (the stream queues in order) and counts what is in flight.
function write(state, writer, bytes) {
  state.inflight += bytes.length;
  const done = () => {
    state.inflight -= bytes.length;
  };
  writer.write(bytes).then(done, done);
}

export class VideoSender {
  /**
   * @param {object} o wt (WebTransport), trackId (client track id), counters
   *   (shared client counters), features (shared; sendOrder is recorded),
   *   requestKeyframe() (asks our encoder for a keyframe), log
   */
  constructor({ wt, trackId, counters, features, requestKeyframe, log }) {
    Object.assign(this, { wt, trackId, counters, features, requestKeyframe, log });
    this.writer = null;
    this.group = -1;
    this.inflight = 0;
    this.skipToKey = false;
    this.chain = Promise.resolve();
    this.closed = false;
  }

  /** Queues a frame; returns false if it was dropped. */
  send(header, payload) {
    if (this.closed) return false;
    if (!header.keyframe) return this.sendDelta(header, payload);
    this.skipToKey = false;
    const previous = this.writer;
    this.group = header.group;
    this.writer = null;
    const bytes = W.encodeStreamStart({ kind: W.STREAM_VIDEO, track: this.trackId, group: header.group }, header, payload);
    this.chain = this.chain.then(async () => {
      previous?.close().catch(() => {});
      const stream = await this.wt.createUnidirectionalStream({ sendOrder: header.group });
      this.counters.streamsOpened += 1;
      if (this.features.sendOrder === null) this.features.sendOrder = 'sendOrder' in stream;
      const writer = stream.getWriter();
      write(this, writer, bytes);
      if (this.group === header.group && !this.closed) this.writer = writer;
      else writer.close().catch(() => {});
    }).catch((e) => this.log(`track ${this.trackId}: cannot open a group stream: ${e.message}`));
    return true;
  }

  sendDelta(header, payload) {
    if (this.skipToKey || header.group !== this.group) return false;
    if (this.inflight > INFLIGHT_RESET_GROUP) {
      // Far behind: reset this group's stream and restart at a keyframe.
      this.counters.videoGroupsReset += 1;
      const writer = this.writer;
      this.writer = null;
      this.chain = this.chain.then(() => writer?.abort().catch(() => {}));
      this.skipToKey = true;
      this.requestKeyframe();
      return false;
    }
    if (this.inflight > INFLIGHT_DROP_LAYER2 && header.layer === 2) {
      this.counters.framesDroppedCongestion += 1;
      return false;
    }
    const bytes = W.encodeStreamFrame(header, payload);
    this.chain = this.chain.then(() => {
      if (this.writer && this.group === header.group) write(this, this.writer, bytes);
    });
    return true;
  }

  /** Finishes the current group's stream. */
  close() {
    this.closed = true;
    this.chain = this.chain.then(() => this.writer?.close().catch(() => {}));
  }
}

export class AudioSender {
  /**
   * @param {object} o wt, trackId, counters, dgWriter (datagram writer),
   *   maxDatagram (bytes), log
   */
  constructor({ wt, trackId, counters, dgWriter, maxDatagram, log, redundancy = false }) {
    Object.assign(this, { wt, trackId, counters, dgWriter, maxDatagram, log, redundancy });
    this.previous = null; // {header, payload} of the last frame, for the next datagram's copy
    this.writer = null;
    this.inflight = 0;
    this.chain = null;
    this.closed = false;
  }

  /**
   * The datagram for a frame: with `redundancy`, a redundant datagram that
   * also carries the previous frame (so one lost datagram loses no audio),
   * where it fits; else the plain one.
   */
  datagram(header, payload) {
    const previous = this.previous;
    this.previous = { header, payload };
    if (this.redundancy && previous && header.sequence - previous.header.sequence === 1) {
      try {
        return W.encodeRedundantDatagram(header, payload, [previous], this.maxDatagram);
      } catch {
        // Too large for the path: the plain datagram.
      }
    }
    return W.encodeDatagram(header, payload, this.maxDatagram);
  }

  /** Sends a frame; returns false if it was dropped. */
  send(header, payload) {
    if (this.closed) return false;
    if (W.datagramLen(header, payload.length) <= this.maxDatagram) {
      if (this.dgWriter.desiredSize !== null && this.dgWriter.desiredSize < -50) {
        this.counters.datagramsDropped += 1;
        return false;
      }
      this.dgWriter.write(this.datagram(header, payload)).catch(() => {});
      this.counters.datagramsSent += 1;
      return true;
    }
    const frame = W.encodeStreamFrame(header, payload);
    if (!this.chain) {
      const start = W.encodeStreamHeader({ kind: W.STREAM_AUDIO, track: this.trackId, group: 0 });
      this.chain = this.wt.createUnidirectionalStream({ sendOrder: AUDIO_SEND_ORDER }).then((s) => {
        this.writer = s.getWriter();
        this.counters.streamsOpened += 1;
        write(this, this.writer, start);
      });
    }
    this.chain = this.chain.then(() => this.writer && write(this, this.writer, frame))
      .catch((e) => this.log(`track ${this.trackId}: audio stream failed: ${e.message}`));
    this.counters.audioStreamFramesSent += 1;
    return true;
  }

  close() {
    this.closed = true;
    this.chain?.then(() => this.writer?.close().catch(() => {}));
  }
}
