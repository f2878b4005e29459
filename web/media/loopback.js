// Local loopback of the whole media pipeline without a network: capture →
// encoders (publish.js) → wire encoding (video group streams, audio datagrams)
// → wire decoding (StreamReader, decodeDatagram) → decoders (receive.js) →
// canvas and AudioWorklet. It checks WebCodecs, the wire framing and the
// latency statistics in one page (media-test.html#loopback=1).
//
// The clock offset is 0 here (no server), so timestamps are the wall clock and
// the latency is capture → decoded on this machine.

import * as W from './wire.js';
import { ClockSync } from './timing.js';
import { VideoPublisher, AudioPublisher } from './publish.js';
import { VideoReceiver, AudioReceiver } from './receive.js';
import { AudioOutput } from './audio-out.js';

/**
 * @param {object} o stream (MediaStream with camera and/or mic), canvas (for
 *   the decoded video), log, options (VideoPublisher options, e.g. prefer: 'vp8')
 * @returns {Promise<{stats(): object, stop(): void, video, audio}>}
 */
export async function startLoopback({ stream, canvas, log = () => {}, options = {} }) {
  const clock = new ClockSync();
  const audioOut = new AudioOutput();
  const parts = { video: null, audio: null };
  const counters = { streams: 0, datagrams: 0, wireErrors: 0 };

  const videoTrack = stream.getVideoTracks()[0];
  if (videoTrack) {
    const part = { receiver: null, reader: null, group: -1 };
    part.pub = new VideoPublisher({
      // One quality: the loopback has no server to pick between two.
      trackId: 1, track: videoTrack, source: 'camera', clock, log, options: { simulcast: false, ...options },
      onFrame: (_p, header, payload) => loopVideo(part, header, payload),
    });
    const config = await part.pub.start();
    part.receiver = new VideoReceiver({ track: 1, config, clock, log, requestKeyframe: () => part.pub.requestKeyframe() });
    part.receiver.attach(canvas);
    part.pub.requestKeyframe(); // frames before the receiver existed were dropped
    parts.video = part;
  }

  const audioTrack = stream.getAudioTracks()[0];
  if (audioTrack) {
    const part = { receiver: null };
    part.pub = new AudioPublisher({
      trackId: 2, track: audioTrack, clock, log,
      onFrame: (_p, header, payload) => loopAudio(part, header, payload),
    });
    const config = await part.pub.start();
    part.receiver = new AudioReceiver({ track: 2, config, clock, log });
    audioOut.createPlayer(config.channels).then((player) => part.receiver.attach(player), (e) => log(`audio output: ${e.message}`));
    parts.audio = part;
  }

  // Video: one "stream" per group, through the real framing and StreamReader.
  function loopVideo(part, header, payload) {
    const r = part.receiver;
    if (!r) return false;
    try {
      if (header.keyframe) {
        if (part.reader) {
          part.reader.finish();
          r.groupEnded(part.group, false);
        }
        part.reader = new W.StreamReader();
        part.group = header.group;
        counters.streams += 1;
        part.reader.push(W.encodeStreamStart({ kind: W.STREAM_VIDEO, track: 1, group: header.group }, header, payload));
        r.groupOpened(part.reader.header().group);
      } else {
        if (!part.reader) return false;
        part.reader.push(W.encodeStreamFrame(header, payload));
      }
      for (let f = part.reader.next(); f; f = part.reader.next()) r.frame(f.header, f.payload);
      return true;
    } catch (e) {
      counters.wireErrors += 1;
      log(`loopback video: ${e.message}`);
      return false;
    }
  }

  // Audio: a datagram each, through encodeDatagram/decodeDatagram.
  function loopAudio(part, header, payload) {
    if (!part.receiver) return false;
    try {
      const { header: h, payload: p } = W.decodeDatagram(W.encodeDatagram(header, payload));
      counters.datagrams += 1;
      part.receiver.frame(h, p);
      return true;
    } catch (e) {
      counters.wireErrors += 1;
      log(`loopback audio: ${e.message}`);
      return false;
    }
  }

  return {
    video: parts.video,
    audio: parts.audio,
    audioOut,
    stats() {
      return {
        counters: { ...counters },
        published: [parts.video, parts.audio].filter(Boolean).map((p) => ({ ...p.pub.stats })),
        subscribed: [parts.video, parts.audio].filter(Boolean).map((p) => p.receiver.snapshot()),
      };
    },
    latencySamples(kind) {
      return parts[kind]?.receiver.latency.samples() ?? [];
    },
    stop() {
      for (const p of [parts.video, parts.audio]) {
        if (!p) continue;
        p.pub.stop();
        p.receiver.close();
      }
      audioOut.close();
    },
  };
}
