// WebSocketTransport: the media protocol over a WebSocket (PROTOCOL.md §8)
// behind the part of the WebTransport interface MediaClient, send.js and the
// receivers use — `ready`, `closed`, `close()`, `createBidirectionalStream()`
// (the control stream), `createUnidirectionalStream()`,
// `incomingUnidirectionalStreams` and `datagrams` — so the same client code
// runs over TCP where UDP is blocked or WebTransport is missing.
//
// Each binary WebSocket message starts with a kind byte:
//   0x00 control-stream bytes        0x01 one datagram (its 0x01 type included)
//   0x02 stream-header | bytes of that unidirectional stream (the first opens it)
//   0x03 stream-header (FIN)         0x04 stream-header (reset)
// Close codes: 4000 + the protocol's close code (§6), with the same reason.

import * as W from './wire.js';

export const WS_CONTROL = 0x00;
export const WS_DATAGRAM = 0x01;
export const WS_STREAM = 0x02;
export const WS_FINISH = 0x03;
export const WS_RESET = 0x04;
// Writers wait while this much is buffered in the socket (TCP backpressure
// becomes the `inflight` send.js measures); audio above it is dropped.
const BUFFER_HIGH = 256 * 1024;
const AUDIO_BUFFER_DROP = 64 * 1024;

function join(kind, head, body) {
  const out = new Uint8Array(1 + head.length + (body ? body.length : 0));
  out[0] = kind;
  out.set(head, 1);
  if (body) out.set(body, 1 + head.length);
  return out;
}

function keyOf(head) {
  return Array.from(head).join(',');
}

/** The media WebSocket URL of a path on this page's origin (wss on https). */
export function webSocketUrl(path) {
  const u = new URL(path, location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

export class WebSocketTransport {
  constructor(url) {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.incoming = new Map(); // stream-header key → controller of an incoming stream
    this.control = null; // controller of the control stream's readable side
    let opened = false;
    this.ready = new Promise((resolve, reject) => {
      ws.addEventListener('open', () => {
        opened = true;
        resolve();
      });
      ws.addEventListener('close', () => {
        if (!opened) reject(new Error('the WebSocket could not connect'));
      });
    });
    this.ready.catch(() => {});
    this.closed = new Promise((resolve, reject) => {
      ws.addEventListener('close', (e) => {
        this.endAll(new Error(`WebSocket closed (${e.code})`));
        if (e.code >= 4000 && e.code < 4100) resolve({ closeCode: e.code - 4000, reason: e.reason });
        else if (e.code === 1000) resolve({ closeCode: 0, reason: e.reason });
        else reject(Object.assign(new Error(`the WebSocket closed (${e.code}${e.reason ? `: ${e.reason}` : ''})`), { sessionErrorCode: null }));
      });
    });
    this.closed.catch(() => {});
    this.incomingUnidirectionalStreams = new ReadableStream({
      start: (c) => {
        this.incomingStreams = c;
      },
    });
    let dgController;
    this.datagrams = {
      maxDatagramSize: W.MAX_DATAGRAM_SIZE,
      readable: new ReadableStream({
        start: (c) => {
          dgController = c;
        },
      }),
      writable: new WritableStream({
        write: (chunk) => {
          // Late audio is worth nothing: drop it while the socket is backed up.
          if (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < AUDIO_BUFFER_DROP) ws.send(join(WS_DATAGRAM, chunk));
        },
      }),
    };
    this.dgController = dgController;
    ws.addEventListener('message', (e) => this.onMessage(new Uint8Array(e.data)));
  }

  send(bytes) {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error('the WebSocket is closed');
    this.ws.send(bytes);
  }

  // Resolves once the socket's buffer is below the mark (TCP backpressure).
  drained() {
    if (this.ws.bufferedAmount < BUFFER_HIGH || this.ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.ws.bufferedAmount < BUFFER_HIGH || this.ws.readyState !== WebSocket.OPEN) resolve();
        else setTimeout(check, 10);
      };
      setTimeout(check, 10);
    });
  }

  close({ closeCode = 0, reason = '' } = {}) {
    try {
      this.ws.close(4000 + closeCode, reason.slice(0, 120));
    } catch {
      this.ws.close();
    }
  }

  /** The control stream: {readable, writable}. */
  async createBidirectionalStream() {
    await this.ready;
    const readable = new ReadableStream({
      start: (c) => {
        this.control = c;
      },
    });
    const writable = new WritableStream({
      write: (chunk) => this.send(join(WS_CONTROL, new Uint8Array(0), chunk)),
    });
    return { readable, writable };
  }

  /** An outgoing unidirectional stream; its first bytes must be its stream header. */
  async createUnidirectionalStream() {
    await this.ready;
    let head = null;
    let pending = new Uint8Array(0);
    return new WritableStream({
      write: (chunk) => {
        if (!head) {
          const all = new Uint8Array(pending.length + chunk.length);
          all.set(pending);
          all.set(chunk, pending.length);
          let n;
          try {
            n = W.decodeStreamHeader(all)[1];
          } catch (e) {
            if (e.code !== 'truncated') throw e;
            pending = all;
            return undefined;
          }
          head = all.subarray(0, n);
          this.send(join(WS_STREAM, head, all.subarray(n)));
        } else {
          this.send(join(WS_STREAM, head, chunk));
        }
        return this.drained();
      },
      close: () => {
        if (head && this.ws.readyState === WebSocket.OPEN) this.send(join(WS_FINISH, head));
      },
      abort: () => {
        if (head && this.ws.readyState === WebSocket.OPEN) this.send(join(WS_RESET, head));
      },
    });
  }

  onMessage(b) {
    if (!b.length) return;
    const kind = b[0];
    const rest = b.subarray(1);
    if (kind === WS_CONTROL) {
      this.control?.enqueue(rest);
      return;
    }
    if (kind === WS_DATAGRAM) {
      this.dgController.enqueue(rest);
      return;
    }
    let n;
    try {
      n = W.decodeStreamHeader(rest)[1];
    } catch {
      return; // a server bug: nothing to route it to
    }
    const key = keyOf(rest.subarray(0, n));
    if (kind === WS_STREAM) {
      let c = this.incoming.get(key);
      let data = rest.subarray(n);
      if (!c) {
        const stream = new ReadableStream({
          start: (ctl) => {
            c = ctl;
          },
          cancel: () => this.incoming.delete(key),
        });
        this.incoming.set(key, c);
        this.incomingStreams.enqueue(stream);
        data = rest; // a new stream starts with its header
      }
      try {
        c.enqueue(data.slice());
      } catch {
        this.incoming.delete(key);
      }
    } else if (kind === WS_FINISH || kind === WS_RESET) {
      const c = this.incoming.get(key);
      this.incoming.delete(key);
      try {
        if (kind === WS_FINISH) c?.close();
        else c?.error(new Error('stream reset by the server'));
      } catch {
        // already cancelled by the reader
      }
    }
  }

  endAll(err) {
    for (const c of this.incoming.values()) {
      try {
        c.error(err);
      } catch {
        // cancelled
      }
    }
    this.incoming.clear();
    for (const c of [this.control, this.dgController, this.incomingStreams]) {
      try {
        c?.close();
      } catch {
        // closed
      }
    }
  }
}
