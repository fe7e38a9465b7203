import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPrivateNats, startPrivatePostgres, startPrivateRedis, type PrivateInstance } from '../src/instances.ts';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';

describe('private service instances', () => {
  const started: PrivateInstance[] = [];
  afterAll(async () => {
    await Promise.all(started.map((i) => i.destroy()));
  });

  it('should stop and start a private Postgres with its data kept', async () => {
    const postgres = await startPrivatePostgres();
    started.push(postgres);
    const query = async (sql: string) => {
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    };
    await query('CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)');
    await postgres.stop();
    await expect(query('SELECT 1')).rejects.toThrow();
    await postgres.start();
    expect(await query('SELECT n FROM kept')).toEqual([{ n: 7 }]);
  });

  it('should stop and start a private NATS and Redis', async () => {
    const [nats, redis] = await Promise.all([startPrivateNats(), startPrivateRedis()]);
    started.push(nats, redis);
    const nc = await connect({ servers: nats.url });
    await nc.flush();
    await nc.close();
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
    await Promise.all([nats.stop(), redis.stop()]);
    await Promise.all([nats.start(), redis.start()]);
    const again = await connect({ servers: nats.url });
    await again.close();
  });
});
