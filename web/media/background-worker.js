// The video background, off the main thread: a classic Worker (MediaPipe's
// selfie segmentation loads its WebAssembly with importScripts, which module
// workers lack) that takes a camera VideoFrame, finds the person in it and
// returns a new VideoFrame (same timestamp) with the background blurred or
// replaced by a preset picture, drawn with OffscreenCanvas. background.js
// owns it.
//
// Messages in (one at a time; they queue):
//   {type: 'frame', id, frame: VideoFrame, mode, kind}   the frame is transferred
//   {type: 'bench', id, frames, width, height, mode, kind}
// out:
//   {type: 'frame', id, frame, segmented: bool, ms}     the input frame is closed
//   {type: 'bench', id, result}                          or {…, error}
//   {type: 'problem', message}                           segmentation cannot run here
//
// Segmentation: the landscape model (256x144 input, fits 16:9 cameras) runs
// on TFLite's CPU path inside the wasm (MediaPipe's GPU path is ten times
// slower where WebGL is software); its mask arrives in the red channel of an
// ImageBitmap, is turned into alpha with a soft edge, smoothed over time,
// scaled up to the frame and used to cut the person out over the new
// background. Until the model is ready (about a second) the whole picture
// counts as background, so a chosen blur never shows the room unblurred.

'use strict';

const VENDOR = new URL('../vendor/node_modules/@mediapipe/selfie_segmentation/', self.location.href).href;
importScripts(new URL('./background-presets.js', self.location.href).href);

// Input size of the landscape model.
const SEG_W = 256;
const SEG_H = 144;
// Segmentation slower than this (moving average, ms) runs every other frame.
const SLOW_SEG_MS = 40;
// Blur strength by mode, as a blur radius in pixels at 640 px width.
const BLUR_PX = { 'semi-blur': 6, blur: 16 };

let segmenter = null; // Promise of {seg, results()} or of null when unavailable
let problem = null;

function loadSegmenter() {
  if (segmenter) return segmenter;
  segmenter = (async () => {
    if (typeof OffscreenCanvas !== 'function') throw new Error('this browser has no OffscreenCanvas');
    // The package's worker path expects a global Module (its wasm loader's
    // settings) and passes every listed file, the model too, to
    // importScripts; only the scripts belong there (the model is fetched
    // separately when the model is selected).
    self.Module = { locateFile: (f) => VENDOR + f };
    const importAll = self.importScripts.bind(self);
    self.importScripts = (...urls) => importAll(...urls.filter((u) => /\.js(\?|$)/.test(u)));
    importScripts(VENDOR + 'selfie_segmentation.js');
    const seg = new self.SelfieSegmentation({ locateFile: (f) => VENDOR + f });
    let last = null;
    seg.onResults((r) => {
      last = r;
    });
    seg.setOptions({ modelSelection: 1, useCpuInference: true, selfieMode: false });
    await seg.initialize();
    // The worker path of this package version leaves the WebGL context that
    // uploads input frames unset (the page path sets it): set it the same way.
    const inner = seg.h;
    if (inner && !inner.K) {
      const gl = inner.i && inner.i.GL && inner.i.GL.currentContext;
      inner.K = (gl && gl.GLctx) || (inner.m && (inner.m.getContext('webgl2') || inner.m.getContext('webgl')));
    }
    if (!inner || !inner.K) throw new Error('WebGL is not available in this browser');
    return {
      async mask(input) {
        last = null;
        await seg.send({ image: input });
        return last ? last.segmentationMask : null;
      },
    };
  })()
    .catch((e) => {
      problem = `Background effects are not available in this browser (${e.message || e}).`;
      self.postMessage({ type: 'problem', message: problem });
      return null;
    });
  return segmenter;
}

// Canvases, reused across frames (re-made when the size changes).
const c = { w: 0, h: 0 };
function canvases(w, h) {
  if (c.w === w && c.h === h) return c;
  c.w = w;
  c.h = h;
  c.seg = new OffscreenCanvas(SEG_W, SEG_H);
  c.segCtx = c.seg.getContext('2d', { willReadFrequently: true });
  c.mask = new OffscreenCanvas(SEG_W, SEG_H);
  c.maskCtx = c.mask.getContext('2d', { willReadFrequently: true });
  c.prevAlpha = null;
  c.hasMask = false;
  c.frameNo = 0;
  c.segMs = 0;
  c.person = new OffscreenCanvas(w, h);
  c.personCtx = c.person.getContext('2d');
  c.out = new OffscreenCanvas(w, h);
  c.outCtx = c.out.getContext('2d', { alpha: false });
  c.small = null;
  c.presets = new Map();
  return c;
}

/** The preset picture at this size, drawn once. */
function preset(id, w, h) {
  let p = c.presets.get(id);
  if (!p) {
    p = new OffscreenCanvas(w, h);
    const draw = globalThis.podiumPresets[id];
    if (draw) draw(p.getContext('2d'), w, h);
    c.presets.set(id, p);
  }
  return p;
}

/** Draws the blurred picture: scaled down, blurred there (cheap), scaled up. */
function drawBlurred(ctx, frame, w, h, mode) {
  const radius = (BLUR_PX[mode] || BLUR_PX.blur) * (w / 640);
  const scale = mode === 'semi-blur' ? 2 : 4;
  const sw = Math.max(2, Math.round(w / scale));
  const sh = Math.max(2, Math.round(h / scale));
  if (!c.small || c.small.width !== sw || c.small.height !== sh) {
    c.small = new OffscreenCanvas(sw, sh);
    c.smallCtx = c.small.getContext('2d', { alpha: false });
  }
  const sctx = c.smallCtx;
  if ('filter' in sctx) sctx.filter = `blur(${(radius / scale).toFixed(1)}px)`;
  // Drawn a little larger than the canvas so the blur has no dark rim.
  const pad = Math.ceil((radius / scale) * 2);
  sctx.drawImage(frame, -pad, -pad, sw + 2 * pad, sh + 2 * pad);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(c.small, 0, 0, w, h);
}

/** The mask as alpha (soft edge, smoothed with the previous frame's). */
function maskToAlpha(maskBitmap) {
  const mctx = c.maskCtx;
  mctx.clearRect(0, 0, SEG_W, SEG_H);
  mctx.drawImage(maskBitmap, 0, 0, SEG_W, SEG_H);
  const img = mctx.getImageData(0, 0, SEG_W, SEG_H);
  const d = img.data;
  const n = SEG_W * SEG_H;
  const prev = c.prevAlpha;
  const alpha = new Uint8ClampedArray(n);
  for (let i = 0; i < n; i += 1) {
    // Confidence in red; soft step between 0.4 and 0.8 (less halo).
    let a = (d[i * 4] / 255 - 0.4) / 0.4;
    a = a <= 0 ? 0 : a >= 1 ? 255 : a * a * (3 - 2 * a) * 255;
    if (prev) a = a * 0.65 + prev[i] * 0.35;
    alpha[i] = a;
    d[i * 4] = 255;
    d[i * 4 + 1] = 255;
    d[i * 4 + 2] = 255;
    d[i * 4 + 3] = a;
  }
  c.prevAlpha = alpha;
  mctx.putImageData(img, 0, 0);
}

/** One frame: returns the composed VideoFrame and closes the input. */
async function compose(frame, mode, kind) {
  const w = frame.displayWidth;
  const h = frame.displayHeight;
  canvases(w, h);
  const t0 = performance.now();
  const seg = await loadSegmenter();
  let segmented = false;
  if (seg) {
    // When segmentation is slow (a weak or busy machine), every other frame
    // reuses the last mask: the frame rate holds up, the edge lags a frame.
    c.frameNo += 1;
    if (!c.hasMask || c.frameNo % (c.segMs > SLOW_SEG_MS ? 2 : 1) === 0) {
      const s0 = performance.now();
      c.segCtx.drawImage(frame, 0, 0, SEG_W, SEG_H);
      const mask = await seg.mask(c.seg);
      if (mask) {
        maskToAlpha(mask);
        c.hasMask = true;
      }
      c.segMs = c.segMs * 0.8 + (performance.now() - s0) * 0.2;
    }
    segmented = c.hasMask;
  } else if (problem) {
    // No segmentation here: the picture goes out as it is (the page says why).
    return { frame, segmented: false, ms: performance.now() - t0 };
  }
  const ctx = c.outCtx;
  if (kind === 'image') ctx.drawImage(preset(mode, w, h), 0, 0, w, h);
  else drawBlurred(ctx, frame, w, h, mode);
  if (segmented) {
    const pctx = c.personCtx;
    pctx.globalCompositeOperation = 'copy';
    pctx.imageSmoothingEnabled = true;
    pctx.drawImage(c.mask, 0, 0, w, h);
    pctx.globalCompositeOperation = 'source-in';
    pctx.drawImage(frame, 0, 0, w, h);
    pctx.globalCompositeOperation = 'source-over';
    ctx.drawImage(c.person, 0, 0);
  }
  const out = new VideoFrame(c.out, { timestamp: frame.timestamp, ...(frame.duration != null ? { duration: frame.duration } : {}) });
  frame.close();
  return { frame: out, segmented, ms: performance.now() - t0 };
}

/** Runs `frames` synthetic frames (a moving pattern) and reports the cost. */
async function bench({ frames, width, height, mode, kind }) {
  const src = new OffscreenCanvas(width, height);
  const sctx = src.getContext('2d');
  await loadSegmenter(); // load time is not per-frame cost
  const times = [];
  const start = performance.now();
  for (let i = 0; i < frames; i += 1) {
    globalThis.podiumPresets.shapes(sctx, width, height);
    sctx.fillStyle = '#222';
    sctx.fillRect((i * 7) % width, height / 3, width / 8, height / 3);
    const frame = new VideoFrame(src, { timestamp: i * 33_333 });
    const r = await compose(frame, mode, kind);
    times.push(r.ms);
    r.frame.close();
  }
  const wall = performance.now() - start;
  times.sort((a, b) => a - b);
  return {
    frames,
    width,
    height,
    mode,
    segmentation: !problem,
    problem,
    msPerFrame: wall / frames,
    fps: (frames * 1000) / wall,
    p50: times[Math.floor(times.length / 2)],
    p95: times[Math.min(times.length - 1, Math.floor(times.length * 0.95))],
  };
}

let queue = Promise.resolve();
self.onmessage = ({ data }) => {
  queue = queue.then(async () => {
    if (data.type === 'frame') {
      try {
        const r = await compose(data.frame, data.mode, data.kind);
        self.postMessage({ type: 'frame', id: data.id, frame: r.frame, segmented: r.segmented, ms: r.ms }, [r.frame]);
      } catch (e) {
        // The frame goes back as it was; the page shows the problem.
        self.postMessage({ type: 'frame', id: data.id, frame: data.frame, error: String(e.message || e) }, [data.frame]);
      }
    } else if (data.type === 'bench') {
      try {
        self.postMessage({ type: 'bench', id: data.id, result: await bench(data) });
      } catch (e) {
        self.postMessage({ type: 'bench', id: data.id, error: String(e.message || e) });
      }
    } else if (data.type === 'warm') {
      loadSegmenter();
    }
  });
};
