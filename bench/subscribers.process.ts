/**
 * A share of the subscriptions bench's subscribers, in a process of its own (subscribers.ts forks one per core):
 * one graphql-ws client per subscription, like the bench's own. Receiving thousands of `next` messages is CPU work
 * of the load generator; in one process it queues behind itself and adds to the latency measured. Times are
 * `performance.timeOrigin + performance.now()`, comparable across processes. Commands and answers over IPC:
 *   open {group, wsUrl, subscriptions: [{query, variables, token?}]}  → opened {group}  (adds to the group)
 *   wait {group, k}: when each client of the group has k results     → received {group, k, at: number[], errors}
 *   close {group}                                                    → closed {group}
 * A client's error (the subscription ended with one) is counted and reported with the next `received`.
 */
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface SubscriberSpec {
  query: string;
  variables: Record<string, unknown>;
  token?: string;
}

export type SubscribersCommand =
  | { type: 'open'; group: string; wsUrl: string; subscriptions: SubscriberSpec[] }
  | { type: 'wait'; group: string; k: number }
  | { type: 'close'; group: string };

export type SubscribersAnswer =
  | { type: 'opened'; group: string }
  | { type: 'received'; group: string; k: number; at: number[]; errors: number }
  | { type: 'closed'; group: string };

interface Group {
  clients: Client[];
  /** Arrival times of each client's results. */
  at: number[][];
  errors: number;
  /** A `wait` not answered yet, and how many clients have k results so far. */
  waiting: { k: number; reached: number } | null;
}

const groups = new Map<string, Group>();
const send = (answer: SubscribersAnswer) => process.send!(answer);
const now = () => performance.timeOrigin + performance.now();

function answerWhenAll(name: string, group: Group) {
  const { waiting } = group;
  if (!waiting || waiting.reached < group.at.length) return;
  group.waiting = null;
  const errors = group.errors;
  group.errors = 0;
  send({ type: 'received', group: name, k: waiting.k, at: group.at.map((times) => times[waiting.k - 1]!), errors });
}

process.on('message', async (command: SubscribersCommand) => {
  if (command.type === 'open') {
    const group: Group = groups.get(command.group) ?? { clients: [], at: [], errors: 0, waiting: null };
    groups.set(command.group, group);
    for (const { query, variables, token } of command.subscriptions) {
      const client = createClient({
        url: command.wsUrl,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        ...(token ? { connectionParams: { authorization: `Bearer ${token}` } } : {}),
      });
      const i = group.at.push([]) - 1;
      client.subscribe(
        { query, variables },
        {
          next: () => {
            const times = group.at[i]!;
            times.push(now());
            if (group.waiting && times.length === group.waiting.k) {
              group.waiting.reached++;
              answerWhenAll(command.group, group);
            }
          },
          error: () => void group.errors++,
          complete: () => undefined,
        },
      );
      group.clients.push(client);
    }
    send({ type: 'opened', group: command.group });
  } else if (command.type === 'wait') {
    const group = groups.get(command.group)!;
    group.waiting = { k: command.k, reached: group.at.filter((times) => times.length >= command.k).length };
    answerWhenAll(command.group, group);
  } else {
    const group = groups.get(command.group);
    groups.delete(command.group);
    await Promise.all(group?.clients.map((c) => c.dispose()) ?? []);
    send({ type: 'closed', group: command.group });
  }
});
process.on('disconnect', () => process.exit(0));
