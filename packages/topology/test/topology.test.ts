import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@insta/db/testing';
import { metricValue, postGraphQL, scrapeMetrics, testServices, uniquePrefix } from '@insta/infra/testing';
import { startTopology, type Topology } from '../src/index.ts';
import { deleteStreams } from '../src/testing.ts';

const SIGN_UP = `mutation SignUp($input: SignUpInput!) { signUp(input: $input) { accessToken user { id username } } }`;
const ME = `{ me { id username } }`;

let database: TestDatabase;
let logDir: string;
let topology: Topology;
const prefix = uniquePrefix('topology');

beforeAll(async () => {
  database = await createTestDatabase();
  logDir = await mkdtemp(join(tmpdir(), 'insta-topology-logs-'));
  topology = await startTopology({
    databaseUrl: database.url,
    redisUrl: testServices.redisUrl,
    natsUrl: testServices.natsUrl,
    prefix,
    logDir,
    replicas: { users: 2, gateway: 2 },
  });
});

afterAll(async () => {
  await topology?.stop();
  await deleteStreams(testServices.natsUrl, prefix);
  await database?.drop();
  await rm(logDir, { recursive: true, force: true });
});

let signUps = 0;
/** Signs a new user up through the gateway and reads `me` with the token it got. */
async function signUpAndMe() {
  const username = `user_${++signUps}_${Date.now() % 100_000}`;
  const signUp = await postGraphQL<{ signUp: { accessToken: string; user: { id: string; username: string } } }>(
    topology.gatewayUrl,
    SIGN_UP,
    { input: { username, email: `${username}@example.com`, password: 'correct horse battery' } },
  );
  expect(signUp.body.errors).toBeUndefined();
  const token = signUp.body.data!.signUp.accessToken;
  const me = await postGraphQL<{ me: { id: string; username: string } }>(
    topology.gatewayUrl,
    ME,
    {},
    {
      authorization: `Bearer ${token}`,
    },
  );
  expect(me.body.errors).toBeUndefined();
  expect(me.body.data!.me).toEqual(signUp.body.data!.signUp.user);
  return me.body.data!.me;
}

describe('the deployed topology', () => {
  it('should run every service as its own process, each with its own log', () => {
    const all = topology.all();
    expect(all.map((i) => `${i.name}-${i.index}`).sort()).toEqual(
      ['feed-0', 'gateway-0', 'gateway-1', 'media-0', 'posts-0', 'social-graph-0', 'users-0', 'users-1'].sort(),
    );
    expect(new Set(all.map((i) => i.pid)).size).toBe(all.length);
    expect(all.every((i) => i.running && i.logFile.startsWith(logDir))).toBe(true);
    // Replicated services are reached through the balancer, the others directly.
    expect(topology.url('users')).not.toBe(topology.instances('users')[0]!.url);
    expect(topology.url('posts')).toBe(topology.instances('posts')[0]!.url);
    expect(topology.gatewayUrl).not.toBe(topology.instances('gateway')[0]!.url);
  });

  it('should sign up and answer me through the gateway', async () => {
    const me = await signUpAndMe();
    expect(me.username).toMatch(/^user_/);
  });

  it('should serve each subgraph process’s own metrics on its /metrics, its Postgres pool among them', async () => {
    await signUpAndMe();
    const scrape = (url: string) => scrapeMetrics(url.replace(/\/graphql$/, '/metrics'));
    for (const instance of topology.all().filter((i) => i.name !== 'gateway')) {
      const samples = await scrape(instance.url);
      expect(metricValue(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      // One registry per process: only its own service's GraphQL series and pool, never another's.
      const services = new Set(samples.filter((s) => s.labels.service).map((s) => s.labels.service));
      expect([...services].every((name) => name === instance.name)).toBe(true);
      const pools = new Set(samples.filter((s) => s.name.startsWith('pg_pool_')).map((s) => s.labels.pool));
      expect([...pools].every((name) => name === instance.name)).toBe(true);
    }
    // The users replicas answered the sign-up and me: their requests, and the pool they used.
    const users = await Promise.all(topology.instances('users').map((i) => scrape(i.url)));
    const total = (name: string, labels: Record<string, string>) =>
      users.reduce((sum, samples) => sum + metricValue(samples, name, labels), 0);
    expect(total('graphql_request_duration_seconds_count', { service: 'users' })).toBeGreaterThanOrEqual(2);
    expect(total('pg_pool_connections', { pool: 'users', state: 'total' })).toBeGreaterThan(0);
    expect(total('pg_pool_max_connections', { pool: 'users' })).toBeGreaterThan(0);
    expect(total('outbox_backlog_messages', { outbox: 'users' })).toBeGreaterThanOrEqual(0);
    expect(users.some((samples) => samples.some((s) => s.name === 'outbox_backlog_messages'))).toBe(true);
  });

  it('should keep the API working when one users replica is killed', async () => {
    const [victim] = topology.instances('users');
    expect(await victim!.kill()).toBeNull();
    expect(victim!.running).toBe(false);
    await signUpAndMe();
    await signUpAndMe();
  });

  it('should keep the API working when one gateway replica is killed', async () => {
    const [victim] = topology.instances('gateway');
    expect(await victim!.kill('SIGKILL')).toBeNull();
    await signUpAndMe();
    await victim!.start();
  });

  it('should bring a killed instance back on its port with start()', async () => {
    const [restarted, other] = topology.instances('users');
    await restarted!.start();
    expect(restarted!.running).toBe(true);
    expect((await fetch(restarted!.url.replace(/graphql$/, 'readyz'))).status).toBe(200);
    // With the other replica gone, only the restarted one can answer (once the balancer has seen it healthy).
    await other!.kill();
    await vi.waitFor(() => signUpAndMe(), { timeout: 10_000, interval: 200 });
    await other!.start();
  });

  it('should stop an instance cleanly on SIGTERM (exit code 0) and start it again', async () => {
    const [instance] = topology.instances('users');
    expect(await instance!.stop()).toBe(0);
    await instance!.start();
    await signUpAndMe();
  });

  it('should stop every process with exit code 0, consumers and relays included, gateway first', async () => {
    const codes: Record<string, number | null> = {};
    for (const tier of [['gateway'], ['posts', 'feed'], ['users', 'social-graph', 'media']] as const) {
      const instances = tier.flatMap((name) => topology.instances(name));
      const exits = await Promise.all(instances.map((instance) => instance.stop()));
      instances.forEach((instance, i) => (codes[`${instance.name}-${instance.index}`] = exits[i]!));
    }
    const all = ['gateway-0', 'gateway-1', 'posts-0', 'feed-0', 'users-0', 'users-1', 'social-graph-0', 'media-0'];
    expect(codes).toEqual(Object.fromEntries(all.map((name) => [name, 0])));
  });
});
