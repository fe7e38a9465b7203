import { performance } from 'node:perf_hooks';
import type { WebSocketServer } from 'ws';
import type WebSocket from 'ws';

/** How many ticks one pass over the sockets takes: each tick pings a slice, not 10,000 sockets at once. */
const SLICES = 100;

/**
 * The websocket keep-alive (ADR 16): every open socket is pinged once per `intervalMs`, and one that has not
 * answered the previous ping by its next turn (about `intervalMs` later) is terminated, as graphql-ws's ws adapter
 * does, but with one timer for the whole server instead of an interval, a pong timeout and their closures per
 * socket (idle-socket memory, ADR 15). The pass is spread over SLICES ticks so the pings of thousands of sockets
 * do not block the event loop at once. Returns the function that stops it.
 */
export function startKeepAlive(wss: WebSocketServer, intervalMs: number): () => void {
  /** Sockets pinged and not answered since. */
  const unanswered = new WeakSet<WebSocket>();
  // One listener function for every socket (`this` is the socket), not a closure each.
  function answered(this: WebSocket) {
    unanswered.delete(this);
  }
  wss.on('connection', (socket: WebSocket) => void socket.on('pong', answered));
  let pass: Iterator<WebSocket> | null = null;
  let passStarted = -Infinity;
  const tick = () => {
    if (!pass) {
      // One pass per interval however few the sockets: each is pinged (and must answer) once per interval.
      if (performance.now() - passStarted < intervalMs) return;
      passStarted = performance.now();
      pass = wss.clients.values();
    }
    // A Set iterator is live: sockets that closed meanwhile are skipped, new ones are visited in this pass.
    for (let n = Math.ceil(wss.clients.size / SLICES); n > 0; n--) {
      const next = pass.next();
      if (next.done) {
        pass = null;
        return;
      }
      const socket = next.value;
      if (socket.readyState !== socket.OPEN) continue;
      if (unanswered.has(socket)) {
        socket.terminate();
        continue;
      }
      unanswered.add(socket);
      socket.ping();
    }
  };
  const timer = setInterval(tick, Math.max(1, Math.floor(intervalMs / SLICES)));
  timer.unref();
  return () => clearInterval(timer);
}
