import { randomBytes } from 'node:crypto';
import { pino } from 'pino';

/** Service URLs the integration tests use: the real Redis, NATS and Postgres of the machine (or of CI). */
export const testServices = {
  redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  natsUrl: process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222',
};

/** A prefix no other test run uses, so parallel runs never share keys or streams. */
export const uniquePrefix = (name: string) => `t${randomBytes(4).toString('hex')}_${name}`;

export const silentLogger = pino({ level: 'silent' });
