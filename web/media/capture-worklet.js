// AudioWorklet processor 'podium-capture': the audio capture of browsers
// without MediaStreamTrackProcessor (capture.js). It copies its input (the
// microphone, `channels` channels) into chunks of `chunkMs` and posts each to
// the main thread as {pcm: [Float32Array per channel]} (transferred). A
// silent or disconnected input gives silence, so the sample count stays the
// capture clock. Its output is silence. A separate file because the CSP
// allows only same-origin worklet modules.

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.channels = Math.max(1, Math.min(2, o.channels || 1));
    this.size = Math.max(128, Math.round((sampleRate * (o.chunkMs || 10)) / 1000));
    this.fresh();
    this.stopped = false;
    this.port.onmessage = (e) => {
      if (e.data && e.data.stop) this.stopped = true;
    };
  }

  fresh() {
    this.chunk = Array.from({ length: this.channels }, () => new Float32Array(this.size));
    this.filled = 0;
  }

  process(inputs) {
    if (this.stopped) return false;
    const input = inputs[0] || [];
    const n = input.length ? input[0].length : 128;
    let done = 0;
    while (done < n) {
      const take = Math.min(n - done, this.size - this.filled);
      for (let c = 0; c < this.channels; c++) {
        const src = input[Math.min(c, input.length - 1)];
        if (src) this.chunk[c].set(src.subarray(done, done + take), this.filled);
      }
      this.filled += take;
      done += take;
      if (this.filled === this.size) {
        this.port.postMessage({ pcm: this.chunk }, this.chunk.map((a) => a.buffer));
        this.fresh();
      }
    }
    return true;
  }
}

registerProcessor('podium-capture', CaptureProcessor);
