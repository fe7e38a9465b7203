import type { ExecutionResult } from 'graphql';
import { MessageType } from 'graphql-ws';

/**
 * The graphql-ws `next` messages of subscription results, serialized once per result (ADR 15, "Delivery").
 * A group hands the same result object to every subscriber it goes to, and the message differs between them
 * only by the subscription's `id`; so the payload's JSON is made once per result (a WeakMap: it lives as long as
 * the result) and each subscriber's message is its own prefix and that JSON. The text is byte for byte what
 * graphql-ws's `emit.next` would send for the same `onNext` payload: `{"id":…,"type":"next","payload":…}`.
 */
export class NextMessages {
  private readonly payloads = new WeakMap<ExecutionResult, string>();

  /** `payload` is the websocket's `onNext`: the result as it goes out (errors formatted). */
  constructor(private readonly payload: (result: ExecutionResult) => unknown) {}

  /** What goes before the payload in every `next` message of subscription `id`. */
  static prefix(id: string): string {
    return `{"id":${JSON.stringify(id)},"type":${JSON.stringify(MessageType.Next)},"payload":`;
  }

  /** The whole message, for a `prefix(id)`. */
  message(prefix: string, result: ExecutionResult): string {
    let json = this.payloads.get(result);
    if (json === undefined) {
      json = JSON.stringify(this.payload(result));
      this.payloads.set(result, json);
    }
    return `${prefix}${json}}`;
  }
}
