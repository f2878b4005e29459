// Capture of a MediaStreamTrack as a stream of WebCodecs inputs (VideoFrame or
// AudioData), for publish.js.
//
// Where the browser has `MediaStreamTrackProcessor` (Chromium) that is used.
// Elsewhere (Firefox) a fallback that every WebCodecs browser has:
// - video: the track plays in a detached, muted <video> element; a timer in a
//   worker (tick-worker.js: not throttled in background tabs) takes
//   `new VideoFrame(video)` at the publisher's frame rate (frames the reader has
//   not taken yet are not queued: at most one waits, newer ones are skipped);
// - audio: the track feeds an AudioWorklet (capture-worklet.js) through a
//   MediaStreamAudioSourceNode; the worklet posts 10 ms of PCM at a time, which
//   becomes f32-planar AudioData stamped by sample count (re-anchored to the
//   wall clock when the count falls 100 ms behind it).
// Both stamp frames with performance.now() µs (capture → read delay included),
// which timing.js's MediaClock maps to the wall clock like Chromium's stamps.
//
//   const reader = await openCapture(track, { fps: 30 });       // video
//   const reader = await openCapture(track, { channels: 1 });   // audio
//   const { value, done } = await reader.read();  ...  reader.cancel();
//   reader.sampleRate  // audio: the rate the AudioData will carry
//   openCapture(track, { fps: 30, effect })    // video through a background.js
//                                              // BackgroundEffect before the reader
//
// The track itself is never stopped here: the app owns it.

const CAPTURE_WORKLET_URL = new URL('./capture-worklet.js', import.meta.url);
const TICK_WORKER_URL = new URL('./tick-worker.js', import.meta.url);

const has = (name) => typeof globalThis[name] === 'function';

/** 'processor' (MediaStreamTrackProcessor), 'fallback' (<video>/AudioWorklet), or null. */
export function captureMethod() {
  if (has('MediaStreamTrackProcessor')) return 'processor';
  if (has('VideoFrame') && has('AudioData') && has('AudioWorkletNode') && has('AudioContext') && typeof document !== 'undefined') {
    return 'fallback';
  }
  return null;
}

/** A reader of VideoFrames (video track) or AudioData (audio track). */
export async function openCapture(track, { fps = 30, channels = 1, effect = null } = {}) {
  const reader = await openReader(track, fps, channels);
  // The video background step (background.js) sits on the VideoFrame path,
  // after either capture method and before the encoder.
  return effect && track.kind === 'video' ? effect.wrap(reader) : reader;
}

async function openReader(track, fps, channels) {
  const method = captureMethod();
  if (method === 'processor') {
    const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
    if (track.kind === 'audio') reader.sampleRate = track.getSettings?.().sampleRate || 48000;
    return reader;
  }
  if (method === 'fallback') {
    return track.kind === 'video' ? videoCapture(track, fps) : audioCapture(track, channels);
  }
  throw new Error('this browser cannot capture media for WebCodecs');
}

const nowUs = () => Math.round(performance.now() * 1000);
const REANCHOR_US = 100_000;

/**
 * Calls `fn` every `ms`: from tick-worker.js, whose timers keep their pace in
 * a background tab, else (no Worker) from the page's own timer.
 */
function metronome(ms) {
  let worker = null;
  let timer = null;
  return {
    start(fn) {
      try {
        worker = new Worker(TICK_WORKER_URL);
        worker.onmessage = fn;
        worker.onerror = () => {
          // The worker did not load: tick from the page instead.
          worker?.terminate();
          worker = null;
          if (timer === null) timer = setInterval(fn, ms);
        };
        worker.postMessage({ ms });
      } catch {
        worker = null;
        timer = setInterval(fn, ms);
      }
    },
    stop() {
      worker?.terminate();
      worker = null;
      clearInterval(timer);
      timer = null;
    },
  };
}

function videoCapture(track, fps) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;
  video.srcObject = new MediaStream([track]);
  const ticker = metronome(1000 / Math.max(1, fps));
  const stop = () => {
    ticker.stop();
    video.pause();
    video.srcObject = null;
  };
  const stream = new ReadableStream(
    {
      start(controller) {
        video.play().catch(() => {}); // autoplay (muted) covers a refused play()
        let lastTime = -1;
        ticker.start(() => {
          if (track.readyState === 'ended') {
            stop();
            controller.close();
            return;
          }
          // Nothing to show yet, or the reader has not taken the last frame.
          if (video.readyState < 2 || !video.videoWidth || controller.desiredSize <= 0) return;
          // The same picture twice (the element is paused): skip.
          if (video.currentTime === lastTime && lastTime > 0) return;
          lastTime = video.currentTime;
          let frame;
          try {
            frame = new VideoFrame(video, { timestamp: nowUs() });
          } catch {
            return; // not decodable this instant; the next tick tries again
          }
          controller.enqueue(frame);
        });
      },
      cancel: stop,
    },
    { highWaterMark: 1, size: () => 1 },
  );
  return stream.getReader();
}

async function audioCapture(track, channels) {
  const ctx = new AudioContext({ latencyHint: 'interactive' });
  let node = null;
  let source = null;
  const stop = () => {
    node?.port.postMessage({ stop: true });
    source?.disconnect();
    node?.disconnect();
    ctx.close().catch(() => {});
  };
  try {
    await ctx.audioWorklet.addModule(CAPTURE_WORKLET_URL);
    source = new MediaStreamAudioSourceNode(ctx, { mediaStream: new MediaStream([track]) });
    node = new AudioWorkletNode(ctx, 'podium-capture', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: channels,
      channelCountMode: 'explicit',
      processorOptions: { channels, chunkMs: 10 },
    });
  } catch (e) {
    stop();
    throw e;
  }
  // The worklet outputs silence; a muted path to the destination keeps the
  // graph pulled (a node nobody listens to may not be processed).
  const mute = new GainNode(ctx, { gain: 0 });
  source.connect(node).connect(mute).connect(ctx.destination);
  // An autoplay policy may hold the context until the person interacts with
  // the page (pages that capture are usually let through): resume it then.
  if (ctx.state === 'suspended') {
    const resume = () => {
      if (ctx.state !== 'suspended') return;
      ctx.resume().catch(() => {});
      for (const t of ['pointerdown', 'keydown']) document.addEventListener(t, resume, { once: true, capture: true });
    };
    resume();
  }
  const rate = ctx.sampleRate;
  let t0 = null; // capture time (µs) of the first sample
  let samples = 0;
  const stream = new ReadableStream(
    {
      start(controller) {
        node.port.onmessage = ({ data }) => {
          if (track.readyState === 'ended') {
            stop();
            controller.close();
            return;
          }
          const frames = data.pcm[0].length;
          const now = nowUs();
          const end = (n) => t0 + Math.round((n * 1e6) / rate);
          // Anchor the sample clock at the first chunk, and again whenever it
          // falls behind the wall clock by more than REANCHOR_US (the audio
          // graph lost time: a stalled thread, a device hiccup), so stamps
          // stay capture times; the jump shows as a gap in publish.js.
          if (t0 === null || now - end(samples + frames) > REANCHOR_US) {
            t0 = now - Math.round(((samples + frames) * 1e6) / rate);
          }
          const timestamp = end(samples);
          samples += frames;
          // Audio the reader did not take in time is dropped (a gap publish.js counts).
          if (controller.desiredSize <= 0) return;
          const planar = new Float32Array(frames * data.pcm.length);
          data.pcm.forEach((ch, i) => planar.set(ch, i * frames));
          controller.enqueue(
            new AudioData({ format: 'f32-planar', sampleRate: rate, numberOfFrames: frames, numberOfChannels: data.pcm.length, timestamp, data: planar }),
          );
        };
      },
      cancel: stop,
    },
    { highWaterMark: 50, size: () => 1 },
  );
  const reader = stream.getReader();
  reader.sampleRate = rate;
  return reader;
}
