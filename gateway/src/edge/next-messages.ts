import type { ExecutionResult } from 'graphql';
import { MessageType } from 'graphql-ws';
import WebSocket from 'ws';

/** The websocket frame's first byte: FIN and the text opcode (RFC 6455 §5.2). */
const FIN_TEXT = 0x81;
/** ws's Sender `_state` when no send is being compressed or read from a blob (its queue is then empty too). */
const SENDER_IDLE = 0;

/** What the socket's private parts look like in ws 8 (read-only use, and only when they have this shape). */
interface WsInternals {
  _socket?: { write(data: Buffer, cb: (error?: Error | null) => void): boolean } | null;
  _sender?: { _state?: number; _queue?: unknown[] } | null;
}

/**
 * The graphql-ws `next` messages of subscription results, serialized once per result (ADR 15, "Delivery").
 * A group hands the same result object to every subscriber it goes to, and the message differs between them
 * only by the subscription's `id`; so the payload's JSON bytes are made once per result (a WeakMap: they live as
 * long as the result) and each subscriber's message is its own prefix and those bytes. The text is byte for byte
 * what graphql-ws's `emit.next` would send for the same `onNext` payload: `{"id":…,"type":"next","payload":…}`.
 *
 * `send` writes the whole websocket frame (header, prefix, payload: one buffer, one `write`) straight to the
 * socket's net.Socket, as ws's own Sender would (server frames are not masked; no per-message deflate), without
 * ws's per-send work (a string encoded per socket, an options object, a corked two-buffer writev). It does so
 * only while ws could not be writing anything else itself (its Sender idle, its queue empty), so frames never
 * interleave; otherwise, or with a ws whose internals look different, it goes through `WebSocket.send`.
 */
export class NextMessages {
  /** Per result: its payload's JSON and the closing brace, as UTF-8. */
  private readonly payloads = new WeakMap<ExecutionResult, Buffer>();

  /** `payload` is the websocket's `onNext`: the result as it goes out (errors formatted). */
  constructor(private readonly payload: (result: ExecutionResult) => unknown) {}

  /** What goes before the payload in every `next` message of subscription `id`, as UTF-8. */
  static prefix(id: string): Buffer {
    return Buffer.from(`{"id":${JSON.stringify(id)},"type":${JSON.stringify(MessageType.Next)},"payload":`);
  }

  /** The whole message, for a `prefix(id)`. */
  message(prefix: Buffer, result: ExecutionResult): string {
    return `${prefix.toString()}${this.tail(result).toString()}`;
  }

  /** The message as one unmasked, final text frame: what ws's Sender writes for `message(prefix, result)`. */
  frame(prefix: Buffer, result: ExecutionResult): Buffer {
    const tail = this.tail(result);
    const length = prefix.length + tail.length;
    const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(header + length);
    frame[0] = FIN_TEXT;
    if (header === 2) frame[1] = length;
    else if (header === 4) {
      frame[1] = 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 127;
      frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
      frame.writeUInt32BE(length >>> 0, 6);
    }
    prefix.copy(frame, header);
    tail.copy(frame, header + prefix.length);
    return frame;
  }

  /** Sends the `next` message of `result` on an open socket; `written` once it left the process (or never will). */
  send(socket: WebSocket, prefix: Buffer, result: ExecutionResult, written: () => void): void {
    if (socket.readyState !== WebSocket.OPEN) return written();
    const { _socket: raw, _sender: sender } = socket as unknown as WsInternals;
    if (raw && sender?._state === SENDER_IDLE && sender._queue?.length === 0) {
      raw.write(this.frame(prefix, result), written);
    } else {
      socket.send(this.message(prefix, result), { binary: false, compress: false }, written);
    }
  }

  private tail(result: ExecutionResult): Buffer {
    let tail = this.payloads.get(result);
    if (tail === undefined) {
      tail = Buffer.from(`${JSON.stringify(this.payload(result))}}`);
      this.payloads.set(result, tail);
    }
    return tail;
  }
}
