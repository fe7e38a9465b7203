import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import type { Prisma, PrismaClient } from '../generated/prisma/client';

/** The outbox tables, one per subgraph schema (see schema.prisma). */
export type OutboxTable = 'users.outbox' | 'social.outbox' | 'posts.outbox' | 'media.outbox';

interface OutboxRow {
  id: bigint;
  subject: string;
  payload: unknown;
  msg_id: string;
}

/**
 * The OutboxStore (packages/infra/src/outbox.ts) of one outbox table. An advisory lock keyed by the table keeps
 * a single relay draining it at a time, so events leave in commit order whatever the number of instances.
 */
export function outboxStore(db: PrismaClient, table: OutboxTable) {
  return {
    name: table.split('.', 1)[0]!,
    /** Rows not yet published and when the oldest was committed (read when Prometheus scrapes). */
    async backlog(): Promise<{ count: number; oldestAt: Date | null }> {
      const [row] = await db.$queryRawUnsafe<{ count: number; oldest: Date | null }[]>(
        `SELECT count(*)::int AS count, min(created_at) AS oldest FROM ${table}`,
      );
      return { count: row?.count ?? 0, oldestAt: row?.oldest ?? null };
    },
    drain(
      limit: number,
      publish: (messages: { subject: string; payload: unknown; msgId: string }[]) => Promise<void>,
    ): Promise<number> {
      return db.$transaction(
        async (tx) => {
          const [lock] = await tx.$queryRawUnsafe<{ locked: boolean }[]>(
            'SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked',
            table,
          );
          if (!lock?.locked) return 0;
          const rows = await tx.$queryRawUnsafe<OutboxRow[]>(
            `SELECT id, subject, payload, msg_id FROM ${table} ORDER BY id LIMIT $1`,
            limit,
          );
          if (rows.length === 0) return 0;
          await publish(rows.map((r) => ({ subject: r.subject, payload: r.payload, msgId: r.msg_id })));
          await tx.$executeRawUnsafe(
            `DELETE FROM ${table} WHERE id = ANY($1::bigint[])`,
            rows.map((r) => r.id),
          );
          return rows.length;
        },
        { timeout: 30_000 },
      );
    },
  };
}

/** Event envelope fields every published event carries. */
export interface EventMeta {
  eventId: string;
  occurredAt: string;
}

/** An outbox row for `subject`, with a fresh event id used as the JetStream msgId. */
export function outboxRow<T extends object>(
  subject: string,
  data: T,
  now = new Date(),
): { subject: string; payload: Prisma.InputJsonObject; msgId: string } {
  const eventId = randomUUID();
  // The trace of the request that caused the event (when tracing is on): its consumers' spans join it.
  const trace: { traceparent?: string } = {};
  propagation.inject(context.active(), trace);
  return {
    subject,
    msgId: eventId,
    payload: { ...data, eventId, occurredAt: now.toISOString(), ...trace } as Prisma.InputJsonObject,
  };
}
