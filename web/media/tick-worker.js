// A metronome for capture.js's video fallback: posts a message every `ms`
// milliseconds after {ms} (and stops at {ms: 0}). Timers in a worker keep
// their pace when the page's tab is in the background, where the page's own
// timers are throttled to about one a second, which would freeze the camera
// for everyone watching.

let timer = null;

onmessage = ({ data }) => {
  clearInterval(timer);
  timer = data && data.ms > 0 ? setInterval(() => postMessage(0), data.ms) : null;
};
