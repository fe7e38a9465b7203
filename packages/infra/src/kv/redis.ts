import { Redis, type Command } from 'ioredis';
import { redisCommandDuration } from '../metrics/registry.ts';
import type { Logger } from '../logger.ts';
import { traceCommand } from '../tracing/tracing.ts';
import type { KeyValueStore, ScoredMember, SortedSetEntry, TokenBucket, TokenBucketResult } from './kv.ts';

/**
 * Connects to Redis and resolves once the connection is ready; the caller owns the client. While Redis is
 * unreachable the client reconnects on its own; commands fail after 3 tries (a transient error, failures.ts), and
 * each failed reconnection is logged as a warning (without a listener ioredis prints them as unhandled).
 */
export async function connectRedis(url: string, logger?: Pick<Logger, 'warn'>): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableAutoPipelining: true });
  client.on('error', (error: Error) => logger?.warn({ err: error }, 'redis connection error'));
  await client.connect();
  return client;
}

/** KEYS[i] gets (ARGV[2i], ARGV[2i+1]) as (score, member); each key is then trimmed to its ARGV[1] highest. */
const ZADD_CAPPED = `
local cap = tonumber(ARGV[1])
local added = {}
for i, key in ipairs(KEYS) do
  if redis.call('ZADD', key, ARGV[2 * i], ARGV[2 * i + 1]) == 1 then
    added[#added + 1] = i - 1
    redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1))
  end
end
return added`;

/**
 * ZADD_CAPPED for the fan-out's shape, one member (ARGV[3], score ARGV[2]) into every key: the member and score
 * cross the wire, and are parsed and made Lua strings, once per batch instead of once per key.
 */
const ZADD_ONE_CAPPED = `
local cap = tonumber(ARGV[1])
local score = ARGV[2]
local member = ARGV[3]
local added = {}
for i, key in ipairs(KEYS) do
  if redis.call('ZADD', key, score, member) == 1 then
    added[#added + 1] = i - 1
    redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1))
  end
end
return added`;

/**
 * EXISTS of each key, as one command: a pipeline of one EXISTS per key costs the client a command object, a
 * promise and a reply each (5,000 keys, the sessions of one subscription event: ~40–120 ms of CPU on this box,
 * against ~2.5 ms for this script).
 */
const EXISTS_EACH = `
local found = {}
for i, key in ipairs(KEYS) do found[i] = redis.call('EXISTS', key) end
return found
`;
/** Keys per EXISTS_EACH call. */
const EXISTS_CHUNK = 5000;

/**
 * Token bucket (the memory adapter's takeFromBucket, on the Redis clock so that every gateway agrees): a hash of
 * tokens and the time they were counted, expiring when the bucket would be full again. ARGV: capacity,
 * ms per token, tokens wanted. Returns allowed (0/1), tokens left (a string: Lua numbers become integers),
 * retry-after ms and reset ms.
 */
const TAKE_TOKENS = `
local capacity = tonumber(ARGV[1])
local ms_per_token = tonumber(ARGV[2])
local wanted = math.min(tonumber(ARGV[3]), capacity)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = capacity
if state[1] then tokens = math.min(capacity, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) / ms_per_token) end
local allowed = 0
local retry = 0
if tokens >= wanted then
  tokens = tokens - wanted
  allowed = 1
else
  retry = math.ceil((wanted - tokens) * ms_per_token)
end
local reset = math.ceil((capacity - tokens) * ms_per_token)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.max(1, reset))
return {allowed, tostring(tokens), retry, reset}`;

/** The scripts as ioredis custom commands (EVALSHA, EVAL when Redis does not know the script yet). */
interface ScriptCommands {
  zaddCapped(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  zaddOneCapped(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  existsEach(numKeys: number, ...keys: string[]): Promise<number[]>;
}

export class RedisKeyValueStore implements KeyValueStore {
  private readonly client: Redis & ScriptCommands;

  constructor(
    client: Redis,
    private readonly prefix: string,
  ) {
    if (!prefix) throw new Error('RedisKeyValueStore needs a key prefix');
    // defineCommand is idempotent per name; the owner's client gains the scripts as commands.
    client.defineCommand('zaddCapped', { lua: ZADD_CAPPED });
    client.defineCommand('zaddOneCapped', { lua: ZADD_ONE_CAPPED });
    client.defineCommand('existsEach', { lua: EXISTS_EACH });
    this.client = client as Redis & ScriptCommands;
    // Every command of this (owned) client is timed from sent to reply (redis_command_duration_seconds) and, in a
    // trace, is a client span `redis <command>` (auto-pipelining sends the commands of one tick together).
    const send = client.sendCommand.bind(client);
    client.sendCommand = (command: Command, stream?: Parameters<Redis['sendCommand']>[1]) => {
      const end = redisCommandDuration.startTimer({ command: command.name });
      const done = () => void end();
      command.promise.then(done, done);
      traceCommand(
        `redis ${command.name}`,
        { 'db.system.name': 'redis', 'db.operation.name': command.name },
        command.promise,
      );
      return send(command, stream);
    };
  }

  async get(key: string) {
    return this.client.get(this.prefix + key);
  }

  async set(key: string, value: string, ttlMs?: number) {
    if (ttlMs) await this.client.set(this.prefix + key, value, 'PX', ttlMs);
    else await this.client.set(this.prefix + key, value);
  }

  async del(...keys: string[]) {
    if (keys.length === 0) return 0;
    return this.client.del(...keys.map((k) => this.prefix + k));
  }

  async exists(key: string) {
    return (await this.client.exists(this.prefix + key)) === 1;
  }

  async existsMany(keys: readonly string[]) {
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += EXISTS_CHUNK) {
      chunks.push(keys.slice(i, i + EXISTS_CHUNK).map((key) => this.prefix + key));
    }
    const replies = await Promise.all(chunks.map((chunk) => this.client.existsEach(chunk.length, ...chunk)));
    return replies.flat().map((count) => count === 1);
  }

  async takeTokens(key: string, bucket: TokenBucket, count = 1): Promise<TokenBucketResult> {
    const msPerToken = 1000 / bucket.refillPerSecond;
    const reply = (await this.client.eval(TAKE_TOKENS, 1, this.prefix + key, bucket.capacity, msPerToken, count)) as [
      number,
      string,
      number,
      number,
    ];
    return {
      allowed: reply[0] === 1,
      remaining: Math.floor(Number(reply[1])),
      retryAfterMs: Number(reply[2]),
      resetMs: Number(reply[3]),
    };
  }

  async zaddCapped(entries: readonly SortedSetEntry[], cap: number) {
    if (entries.length === 0) return [];
    // One script call per batch: far less client work than a pipeline of 2 commands per entry (the fan-out's cost).
    // EVALSHA (ioredis falls back to EVAL once after a SCRIPT FLUSH or a restart) spares sending the script.
    const keys = entries.map((e) => this.prefix + e.key);
    const { member, score } = entries[0]!;
    if (entries.every((e) => e.member === member && e.score === score)) {
      return (await this.client.zaddOneCapped(keys.length, ...keys, cap, score, member)) as number[];
    }
    const args = entries.flatMap((e) => [e.score, e.member]);
    return (await this.client.zaddCapped(keys.length, ...keys, cap, ...args)) as number[];
  }

  async zrangeDesc(key: string, after: ScoredMember | null, limit: number) {
    if (limit <= 0) return [];
    const k = this.prefix + key;
    if (!after)
      return pairs(await this.client.zrange(k, '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit, 'WITHSCORES'));
    // Members sharing the cursor's score (posts of the same millisecond: few) are filtered by member here.
    const [tied, lower] = await Promise.all([
      this.client.zrange(k, after.score, after.score, 'BYSCORE', 'REV', 'WITHSCORES'),
      this.client.zrange(k, `(${after.score}`, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit, 'WITHSCORES'),
    ]);
    return [...pairs(tied).filter((m) => m.member < after.member), ...pairs(lower)].slice(0, limit);
  }

  async zrem(key: string, members: readonly string[]) {
    if (members.length === 0) return 0;
    return this.client.zrem(this.prefix + key, ...members);
  }

  async zcard(key: string) {
    return this.client.zcard(this.prefix + key);
  }

  async ping() {
    await this.client.ping();
  }

  async close() {
    await this.client.quit();
  }
}

/** WITHSCORES replies alternate member and score. */
function pairs(reply: string[]): ScoredMember[] {
  const out: ScoredMember[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) out.push({ member: reply[i]!, score: Number(reply[i + 1]) });
  return out;
}
