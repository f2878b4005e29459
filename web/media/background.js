// Video backgrounds (blur, slight blur, preset pictures) applied to camera
// frames before they are encoded, in a Worker (background-worker.js) so the
// page stays smooth. One BackgroundEffect per page; its mode can change at any
// time and applies from the next frame.
//
// Where it sits: capture.js's openCapture(track, {effect}) wraps the camera's
// frame reader, so every VideoFrame the publisher encodes went through
// effect.process() first; this works the same for MediaStreamTrackProcessor
// (Chromium) and the <video>-sampling fallback (Firefox). Views (canvases)
// attached with view() show what is sent; preview(track) feeds them while no
// publisher does (before going on stage, in the settings).
//
//   const effect = new BackgroundEffect();
//   effect.setMode({id: 'blur', kind: 'blur'});    // ids and kinds from /api/config
//   client.publishCamera(stream, { effect });
//   const canvas = effect.view(); const stop = effect.preview(track);
//
// The choice itself is the member's (PATCH /api/me {background}); this module
// only applies it.

import { openCapture } from './capture.js';

const WORKER_URL = new URL('./background-worker.js', import.meta.url);
// A publisher that fed the effect this recently keeps the views fresh.
const FED_MS = 500;

export class BackgroundEffect extends EventTarget {
  constructor() {
    super();
    this.mode = 'none';
    this.kind = 'none';
    this.worker = null;
    this.pending = new Map(); // id → resolve
    this.nextId = 1;
    this.views = new Set();
    this.problem = null; // why effects cannot run here (shown by the page)
    this.fedAt = 0;
    this.stats = { frames: 0, segmented: 0, ms: 0, errors: 0 };
  }

  /** Sets the background: {id, kind} of a server choice ('none' turns it off). */
  setMode({ id, kind }) {
    this.mode = id || 'none';
    this.kind = this.mode === 'none' ? 'none' : kind;
    if (this.active()) this.ensureWorker().postMessage({ type: 'warm' });
    this.dispatchEvent(new Event('change'));
  }

  /** True when frames are changed (a background is chosen and can be applied). */
  active() {
    return this.mode !== 'none' && !this.problem && typeof Worker === 'function' && typeof OffscreenCanvas === 'function';
  }

  ensureWorker() {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_URL);
    w.onmessage = ({ data }) => {
      if (data.type === 'problem') {
        this.problem = data.message;
        this.dispatchEvent(new Event('change'));
        return;
      }
      const done = this.pending.get(data.id);
      if (!done) return;
      this.pending.delete(data.id);
      done(data);
    };
    w.onerror = (e) => {
      this.problem = `Background effects could not start: ${e.message || 'the worker failed to load'}`;
      for (const [id, done] of this.pending) done({ id, error: this.problem });
      this.pending.clear();
      this.dispatchEvent(new Event('change'));
    };
    this.worker = w;
    return w;
  }

  request(msg, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ensureWorker().postMessage({ ...msg, id }, transfer);
    });
  }

  /**
   * The frame with the chosen background (a new VideoFrame, the input is
   * consumed), or the frame itself when no background applies. Never throws:
   * a failure sends the picture as it is and sets `problem`.
   */
  async process(frame, { preview = false } = {}) {
    if (!preview) this.fedAt = performance.now();
    let out = frame;
    if (this.active()) {
      const r = await this.request({ type: 'frame', frame, mode: this.mode, kind: this.kind }, [frame]);
      if (r.error) {
        this.stats.errors += 1;
        if (!this.problem) {
          this.problem = `Background effects stopped: ${r.error}`;
          this.dispatchEvent(new Event('change'));
        }
      } else {
        this.stats.frames += 1;
        this.stats.ms += r.ms || 0;
        if (r.segmented) this.stats.segmented += 1;
      }
      out = r.frame || frame;
    }
    this.draw(out);
    return out;
  }

  draw(frame) {
    for (const canvas of this.views) {
      if (!canvas.isConnected) {
        this.views.delete(canvas);
        continue;
      }
      if (canvas.width !== frame.displayWidth || canvas.height !== frame.displayHeight) {
        canvas.width = frame.displayWidth;
        canvas.height = frame.displayHeight;
      }
      canvas.getContext('2d').drawImage(frame, 0, 0, canvas.width, canvas.height);
    }
  }

  /** A canvas that shows the processed camera (removed from the views once detached from the page). */
  view(className = '') {
    const canvas = document.createElement('canvas');
    canvas.className = className;
    canvas.width = 640;
    canvas.height = 360;
    this.views.add(canvas);
    return canvas;
  }

  /** Wraps a VideoFrame reader (capture.js) so every frame gets the background. */
  wrap(reader) {
    return {
      read: async () => {
        const r = await reader.read();
        if (r.done) return r;
        return { value: await this.process(r.value), done: false };
      },
      cancel: (reason) => reader.cancel(reason),
      releaseLock: () => reader.releaseLock?.(),
    };
  }

  /**
   * Feeds the views from `track` while no publisher does (a clone of the
   * track, stopped with the returned function).
   */
  preview(track, { fps = 15 } = {}) {
    const own = track.clone();
    let stopped = false;
    let reader = null;
    (async () => {
      try {
        reader = await openCapture(own, { fps });
        if (stopped) reader.cancel().catch(() => {});
        while (!stopped) {
          const { value, done } = await reader.read();
          if (done) break;
          if (performance.now() - this.fedAt < FED_MS) {
            value.close();
            continue;
          }
          const out = await this.process(value, { preview: true });
          out.close();
        }
      } catch {
        // The preview is best effort: the camera may have gone away.
      }
    })();
    return () => {
      stopped = true;
      reader?.cancel().catch(() => {});
      own.stop();
    };
  }

  /** Benchmark hook: `frames` synthetic frames through the worker; {msPerFrame, fps, p50, p95, …}. */
  async bench({ frames = 100, width = 640, height = 360, mode = 'blur', kind = 'blur' } = {}) {
    const r = await this.request({ type: 'bench', frames, width, height, mode, kind });
    if (r.error) throw new Error(r.error);
    return r.result;
  }

  close() {
    this.worker?.terminate();
    this.worker = null;
    for (const [id, done] of this.pending) done({ id, error: 'closed' });
    this.pending.clear();
  }
}

/** Draws a thumbnail of a choice ({id, kind}) onto a canvas, for pickers. */
export async function drawThumbnail(canvas, choice) {
  const ctx = canvas.getContext('2d');
  const { width: w, height: h } = canvas;
  if (choice.kind === 'image') {
    await import('./background-presets.js');
    const draw = globalThis.podiumPresets && globalThis.podiumPresets[choice.id];
    if (draw) draw(ctx, w, h);
    return;
  }
  // None / blur: a simple figure over a room, sharp or blurred.
  const scene = (c) => {
    c.fillStyle = '#c9d3e3';
    c.fillRect(0, 0, w, h);
    c.fillStyle = '#8a9bb8';
    c.fillRect(w * 0.08, h * 0.15, w * 0.25, h * 0.45);
    c.fillStyle = '#e9b77c';
    c.fillRect(w * 0.7, h * 0.2, w * 0.18, h * 0.3);
    c.fillStyle = '#6b7a93';
    c.fillRect(0, h * 0.75, w, h * 0.25);
  };
  if (choice.kind === 'blur' && 'filter' in ctx) ctx.filter = `blur(${choice.id === 'blur' ? 3 : 1.5}px)`;
  scene(ctx);
  ctx.filter = 'none';
  ctx.fillStyle = '#3b4a63';
  ctx.beginPath();
  ctx.arc(w / 2, h * 0.42, h * 0.17, 0, Math.PI * 2);
  ctx.fill();
  ctx.beginPath();
  ctx.ellipse(w / 2, h * 1.02, w * 0.24, h * 0.4, 0, 0, Math.PI * 2);
  ctx.fill();
}
