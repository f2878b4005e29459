// Driver of web/media-test.html, a minimal page for automated browser tests of
// the media client (Chromium with --use-fake-ui-for-media-stream
// --use-fake-device-for-media-stream, ideally --autoplay-policy=no-user-gesture-required).
//
// Parameters in location.hash, URL-encoded like a query string:
//   url        WebTransport URL of the SFU (https://127.0.0.1:4433/...)
//   token      join token
//   hashes     comma-separated base64 SHA-256 of the server certificate (optional)
//   publish    'camera', 'mic', 'camera,mic' or empty
//   subscribe  'all' to subscribe to (and render/play) every TrackAdded
//   codec      'vp8' to skip AV1 (optional)
//   abitrate   Opus bitrate in bit/s (optional)
//   dgmax      largest audio datagram to send (optional; e.g. 100 sends most
//              Opus frames on the audio stream fallback instead)
//   loopback   '1': no server; capture → encode → wire → decode in this page
//   ws         the media WebSocket's path on this origin (join's ws_path): the
//              fallback when WebTransport is missing or does not connect
//   wttimeout  ms to wait for WebTransport before the fallback (default 3500)
//
// window.podiumTest, for the test driver to poll:
//   state      'loading' | 'media' (getUserMedia) | 'connecting' | 'connected'
//              | 'running' (loopback) | 'closed' | 'error'   (also body[data-state])
//   error      null or a message (the first failure)
//   log        array of log lines
//   stats()    {state, error, closeCode, closeReason, participant, framesSent,
//              audioFramesSent, framesReceived, framesDecoded, audioFramesReceived,
//              audioFramesDecoded, keyframesReceived, rttMs, latency: {video:
//              {p50: [...], p95: [...]}, audio: {...}} (one entry per subscribed
//              track, ms), full: the client's complete stats()}
//   latencySamples()  {video: [[ms...] per track], audio: [...]}
//   client / loopback  the live objects

import { h, replace } from '../dom.js';
import { MediaClient } from './client.js';
import { webSocketUrl } from './ws-transport.js';
import { startLoopback } from './loopback.js';

const params = new URLSearchParams(location.hash.slice(1));
const t0 = performance.now();
const test = {
  state: 'loading',
  error: null,
  log: [],
  client: null,
  loopback: null,
  stats: () => summary(),
  latencySamples: () => latencySamples(),
};
window.podiumTest = test;

const $ = (id) => document.getElementById(id);

function log(msg) {
  const line = `${((performance.now() - t0) / 1000).toFixed(3)} ${msg}`;
  test.log.push(line);
  if (test.log.length > 500) test.log.shift();
  $('log').textContent = test.log.join('\n');
}

function setState(state) {
  test.state = state;
  document.body.dataset.state = state;
}

function fail(msg) {
  if (!test.error) test.error = String(msg);
  log(`ERROR ${msg}`);
}

window.addEventListener('error', (e) => fail(`uncaught: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => fail(`unhandled rejection: ${e.reason?.message || e.reason}`));

function fullStats() {
  if (test.client) return test.client.stats();
  if (test.loopback) return { state: test.state, ...test.loopback.stats() };
  return null;
}

function summary() {
  const full = fullStats();
  const subs = full?.subscribed || [];
  const pubs = full?.published || [];
  const sum = (list, key) => list.reduce((n, s) => n + (s[key] || 0), 0);
  const lat = (kind, p) => subs.filter((s) => s.kind === kind).map((s) => s.latency[p]);
  return {
    state: test.state,
    error: test.error,
    closeCode: full?.closeCode ?? null,
    closeReason: full?.closeReason ?? '',
    transport: full?.transport ?? null,
    fallback: full?.fallback ?? null,
    participant: full?.participant ?? null,
    framesSent: sum(pubs, 'framesSent'),
    audioFramesSent: sum(pubs, 'audioFramesSent'),
    framesReceived: sum(subs, 'framesReceived'),
    framesDecoded: sum(subs, 'framesDecoded'),
    audioFramesReceived: sum(subs, 'audioFramesReceived'),
    audioFramesDecoded: sum(subs, 'audioFramesDecoded'),
    keyframesReceived: sum(subs.filter((s) => s.kind === 'video'), 'keyframes'),
    rttMs: full?.rttMs ?? null,
    latency: {
      video: { p50: lat('video', 'p50'), p95: lat('video', 'p95') },
      audio: { p50: lat('audio', 'p50'), p95: lat('audio', 'p95') },
    },
    full,
  };
}

function latencySamples() {
  if (test.loopback) return { video: [test.loopback.latencySamples('video')], audio: [test.loopback.latencySamples('audio')] };
  const out = { video: [], audio: [] };
  for (const r of test.client?.receivers.values() || []) out[r.kind].push(r.latency.samples());
  return out;
}

function render() {
  const s = summary();
  document.body.dataset.framesDecoded = String(s.framesDecoded);
  document.body.dataset.audioFramesDecoded = String(s.audioFramesDecoded);
  const fmt = (a) => (a.length ? a.join('/') : '–');
  $('status').textContent = [
    `state: ${s.state}`,
    s.error ? `error: ${s.error}` : null,
    s.closeCode !== null || s.closeReason ? `closed: ${s.closeCode} ${s.closeReason}` : null,
    `sent: ${s.framesSent} video, ${s.audioFramesSent} audio`,
    `decoded: ${s.framesDecoded}/${s.framesReceived} video, ${s.audioFramesDecoded}/${s.audioFramesReceived} audio`,
    `latency p50/p95 ms: video ${fmt(s.latency.video.p50)} / ${fmt(s.latency.video.p95)}, audio ${fmt(s.latency.audio.p50)} / ${fmt(s.latency.audio.p95)}`,
    s.rttMs !== null ? `rtt: ${s.rttMs.toFixed(1)} ms` : null,
  ].filter(Boolean).join(' · ');
  $('stats').textContent = JSON.stringify(s.full, null, 2);
}

function videoBox(label) {
  const canvas = h('canvas', { width: 320, height: 180, class: 'video' });
  $('videos').append(h('figure', null, canvas, h('figcaption', null, label)));
  return canvas;
}

async function getMedia(kinds) {
  if (kinds.length === 0) return null;
  setState('media');
  return navigator.mediaDevices.getUserMedia({
    video: kinds.includes('camera') ? { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30 } } : false,
    audio: kinds.includes('mic'),
  });
}

async function runLoopback() {
  const stream = await getMedia(['camera', 'mic']);
  const canvas = videoBox('loopback');
  const options = params.get('codec') ? { prefer: params.get('codec') } : {};
  test.loopback = await startLoopback({ stream, canvas, log, options });
  setState('running');
  log('loopback running');
}

async function runClient() {
  const url = params.get('url');
  if (!url) {
    setState('idle');
    log('no #url=...: nothing to do (see web/media/test-page.js)');
    return;
  }
  const publish = (params.get('publish') || '').split(',').map((s) => s.trim()).filter(Boolean);
  const stream = await getMedia(publish);
  const client = new MediaClient({ log, datagramLimit: Number(params.get('dgmax')) || undefined });
  test.client = client;
  client.addEventListener('state', (e) => setState(e.detail.state));
  client.addEventListener('close', (e) => log(`closed: code ${e.detail.code} (${e.detail.meaning}) ${e.detail.reason}`));
  client.addEventListener('servererror', (e) => log(`server error: ${e.detail.code}: ${e.detail.reason}`));
  client.addEventListener('permission', (e) => log(`permission: may_publish=${e.detail.mayPublish} room=${e.detail.room}`));
  client.addEventListener('trackremoved', (e) => log(`track ${e.detail.track} removed`));
  if (params.get('subscribe') === 'all') {
    client.addEventListener('trackadded', (e) => {
      const { track, participant, config } = e.detail;
      log(`track ${track} added: ${config.kind} ${config.codec} from participant ${participant}`);
      if (config.kind === 'video') {
        client.attachVideo(track, videoBox(`track ${track} · participant ${participant} · ${config.codec}`));
      } else {
        client.attachAudio(track).catch((err) => fail(`audio ${track}: ${err.message}`));
      }
    });
  }
  const hashes = (params.get('hashes') || '').split(',').map((s) => s.trim()).filter(Boolean);
  const wsPath = params.get('ws');
  const welcome = await client.connect({
    url,
    token: params.get('token') || '',
    certHashes: hashes.length ? hashes : null,
    wsUrl: wsPath ? webSocketUrl(wsPath) : null,
    wtTimeoutMs: Number(params.get('wttimeout')) || undefined,
  });
  log(`media over ${client.transport}${client.fallback ? ` (${client.fallback})` : ''}`);
  log(`welcome: participant ${welcome.participant}, room ${welcome.room}, may_publish ${welcome.mayPublish}`);
  const options = params.get('codec') ? { prefer: params.get('codec') } : {};
  for (const kind of publish) {
    try {
      const p = kind === 'mic'
        ? await client.publishMicrophone(stream, { bitrate: Number(params.get('abitrate')) || undefined })
        : await client.publishCamera(stream, options);
      log(`published ${kind}: track_id ${p.trackId} → track ${p.track} (${p.config.codec})`);
    } catch (e) {
      fail(`publish ${kind}: ${e.message}`);
    }
  }
}

async function main() {
  setInterval(render, 500);
  try {
    if (params.get('loopback') === '1') await runLoopback();
    else await runClient();
  } catch (e) {
    fail(e.message || e);
    if (test.state !== 'closed') setState('error');
  }
  render();
}

replace($('videos'));
main();
