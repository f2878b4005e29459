// Runs frames through the video background worker (background.js) and
// reports the cost: #frames=N&width=W&height=H in the URL hash, each mode in
// turn (slight blur, blur, a preset). The result is JSON in #result and one
// console line "BACKGROUND-BENCH {json}" (scripts/bench-background reads it).

import { BackgroundEffect } from './background.js';

const params = new URLSearchParams(location.hash.slice(1));
const frames = Number(params.get('frames') || 100);
const width = Number(params.get('width') || 640);
const height = Number(params.get('height') || 360);
const modes = [
  { mode: 'semi-blur', kind: 'blur' },
  { mode: 'blur', kind: 'blur' },
  { mode: 'dusk', kind: 'image' },
];

async function run() {
  const results = [];
  for (const m of modes) {
    const effect = new BackgroundEffect();
    try {
      results.push(await effect.bench({ frames, width, height, ...m }));
    } finally {
      effect.close();
    }
  }
  return { userAgent: navigator.userAgent, cores: navigator.hardwareConcurrency, results };
}

run().then(
  (r) => {
    document.getElementById('result').textContent = JSON.stringify(r, null, 2);
    console.log(`BACKGROUND-BENCH ${JSON.stringify(r)}`);
    document.body.dataset.state = 'done';
  },
  (e) => {
    document.getElementById('result').textContent = `error: ${e.message}`;
    console.log(`BACKGROUND-BENCH {"error": ${JSON.stringify(String(e.message || e))}}`);
    document.body.dataset.state = 'error';
  },
);
