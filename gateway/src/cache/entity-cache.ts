import { createHash, randomInt } from 'node:crypto';
import {
  entityCacheBypasses,
  entityCacheHits,
  entityCacheInvalidations,
  entityCacheMisses,
  type EventBus,
  type EventSubscription,
  type Logger,
} from '@insta/infra';
import type { EntityCacheStore } from './entity-cache-store.ts';
import { CLIENT_HINT_HEADERS, ENTITY_CACHE_POLICIES, Tags, type TypePolicy } from './entity-cache-policy.ts';
import { Lru } from './lru.ts';
import { INVALIDATION_SUBJECTS, tagsForEvent, tagsForMutation } from './invalidation.ts';

/** What a subgraph answered (the subset of Apollo's GatewayGraphQLResponse the cache reads and writes). */
export interface SubgraphResponse {
  data?: Record<string, unknown> | null;
  errors?: readonly { readonly path?: readonly (string | number)[] }[];
  extensions?: Record<string, unknown>;
}

/** The part of a subgraph request the cache reads (Apollo's GatewayGraphQLRequest has it). */
export interface SubgraphRequest {
  query?: string;
  variables?: Record<string, unknown>;
}

/** Who asks and with which client hints: what an entry's key depends on besides the entity and the selection. */
export interface CacheCaller {
  viewerId: string | null;
  headers?: NodeJS.Dict<string | string[]>;
}

export interface EntityCacheOptions {
  /** The shared tier (Redis); null: in-process only (a single gateway, embedded mode without Redis). */
  store: EntityCacheStore | null;
  /** Entries the in-process tier (L1) holds at most. */
  l1Entries: number;
  /** Caps every type's TTL (ENTITY_CACHE_POLICIES). */
  maxTtlMs: number;
  /** How long a gateway trusts the generations it read from Redis before reading them again. */
  generationTtlMs: number;
  /** A Redis call slower than this bypasses the cache for that fetch. */
  storeTimeoutMs: number;
  /** After a Redis failure, the shared tier is left alone this long. */
  storeRetryMs?: number;
  logger: Logger;
  now?: () => number;
}

interface Generation {
  value: number;
  readAt: number;
}

/** What every representation of one type in a fetch shares: its policy, the start of its key and its common tags. */
interface TypeLookup {
  typename: string;
  policy: TypePolicy;
  perViewer: boolean;
  /** `subgraph|selection|scope|`: the key of each entry of this type starts so. */
  head: string;
  /** The epoch, subgraph and type tags; the entity's tag comes after them, then the viewer's when perViewer. */
  tags: string[];
  viewerTag: string | null;
  /** The generations of `tags`, then of the viewer's tag (filled once the generations are read). */
  gensBefore: string;
  gensAfter: string;
  l1Hits: number;
  l2Hits: number;
  misses: number;
}

interface Lookup {
  index: number;
  type: TypeLookup;
  representation: Record<string, unknown>;
  entityTag: string;
  /** The entry's key in this process (L1): every part of the key, unhashed (a hash costs more than the lookup). */
  key: string;
  /** Its key in Redis (L2): a hash of `key`, made only when L1 does not have it. */
  storeKey?: string;
}

/** An L1 entry: the entity as parsed, frozen (every reader gets its own copy: the gateway merges into what it gets). */
interface L1Entry {
  value: unknown;
  expiresAt: number;
}

class StoreUnavailable extends Error {}

const sha = (text: string) => createHash('sha1').update(text).digest('base64url');

/**
 * The federated entity cache (docs/adr/0017-entity-cache.md). For an `_entities` fetch it answers each cacheable
 * representation from the in-process tier (L1) or Redis (L2), sends only the misses to the subgraph, stores what
 * came back and merges both in the order the gateway asked. An entry's key names the subgraph, the selection (the
 * fetch's query and its other variables), the representation, the scope (the viewer for per-viewer types, the
 * client hints where they matter) and the current generation of each of its tags; invalidation bumps a tag's
 * generation (in Redis for every instance, and in this process), which makes every entry under it unreachable.
 */
export class EntityCache {
  private readonly l1: Lru<string, L1Entry>;
  private readonly generations: Lru<string, Generation>;
  /** Bumped when a generation is evicted while no shared tier holds it: the forgotten value must not come back. */
  private localEpoch = 0;
  private storeDownUntil = 0;
  /** A bump did not reach Redis (or may not have): the epoch is bumped as soon as Redis answers again. */
  private bumpLost = false;
  private storeDown = false;
  /** Invalidation subscriptions cut off from the broker right now (eventGap): while any is, the cache is bypassed. */
  private blindSubscriptions = 0;
  private readonly now: () => number;
  private subscriptions: EventSubscription<unknown>[] = [];
  private readonly selections = new Lru<string, string>(1_000);

  constructor(private readonly options: EntityCacheOptions) {
    this.now = options.now ?? Date.now;
    this.l1 = new Lru(options.l1Entries);
    this.generations = new Lru(Math.max(1_000, options.l1Entries), () => {
      if (!this.options.store) this.localEpoch++;
    });
  }

  /** Whether this fetch is one the cache handles: an `_entities` query with at least one cacheable type. */
  static isEntitiesFetch(subgraph: string, request: SubgraphRequest): boolean {
    const representations = request.variables?.representations;
    return (
      ENTITY_CACHE_POLICIES[subgraph] !== undefined &&
      Array.isArray(representations) &&
      typeof request.query === 'string' &&
      request.query.includes('_entities(')
    );
  }

  async fetchEntities<R extends SubgraphRequest, T extends SubgraphResponse>(
    subgraph: string,
    request: R,
    caller: CacheCaller,
    send: (request: R) => Promise<T>,
  ): Promise<T | SubgraphResponse> {
    const query = request.query ?? '';
    const { representations, ...otherVariables } = (request.variables ?? {}) as Record<string, unknown>;
    const reps = representations as Record<string, unknown>[];
    const selection = this.selectionKey(query, otherVariables);
    const policies = ENTITY_CACHE_POLICIES[subgraph] ?? {};
    let hints: string | undefined;

    // The parts of a key and the tags every representation of a type shares are made once per type and fetch.
    const lookups: Lookup[] = [];
    const types = new Map<string, TypeLookup | null>();
    for (let index = 0; index < reps.length; index++) {
      const representation = reps[index] as Record<string, unknown>;
      const typename = representation.__typename;
      const id = representation.id;
      if (typeof typename !== 'string' || (typeof id !== 'string' && typeof id !== 'number')) continue;
      let type = types.get(typename);
      if (type === undefined) {
        const policy = policies[typename];
        if (policy) {
          const perViewer = policy.scope === 'viewer' || selectsAny(query, policy.viewerFields);
          if (policy.clientHints)
            hints ??= CLIENT_HINT_HEADERS.map((name) => String(caller.headers?.[name] ?? '')).join(',');
          const scope = `${perViewer ? `v=${caller.viewerId ?? '-'}` : 'public'};${policy.clientHints ? hints : ''}`;
          type = {
            typename,
            policy,
            perViewer,
            head: `${subgraph}|${selection}|${scope}|`,
            tags: [Tags.epoch, Tags.subgraph(subgraph), Tags.type(typename)],
            viewerTag: perViewer ? Tags.viewer(caller.viewerId ?? '-') : null,
            gensBefore: '',
            gensAfter: '',
            l1Hits: 0,
            l2Hits: 0,
            misses: 0,
          };
        }
        types.set(typename, (type ??= null));
      }
      if (type === null) continue;
      lookups.push({ index, type, representation, entityTag: Tags.entity(typename, String(id)), key: '' });
    }
    if (lookups.length === 0) return send(request);
    if (this.blindSubscriptions > 0) {
      entityCacheBypasses.inc();
      return send(request);
    }

    const typeLookups = [...types.values()].filter((type): type is TypeLookup => type !== null);
    const cached = new Map<number, unknown>();
    let useStore = this.storeUsable();
    try {
      const tags: string[] = [];
      for (const type of typeLookups) {
        tags.push(...type.tags);
        if (type.viewerTag) tags.push(type.viewerTag);
      }
      for (const lookup of lookups) tags.push(lookup.entityTag);
      const generations = await this.currentGenerations(tags, useStore);
      const gen = (tag: string) => generations.get(tag) ?? 0;
      for (const type of typeLookups) {
        type.gensBefore = `${type.tags.map(gen).join('.')}.`;
        type.gensAfter = type.viewerTag ? `.${gen(type.viewerTag)}` : '';
      }
      // `head|representation|epoch.subgraph.type.entity[.viewer]|local epoch`, each part the tag's generation.
      const tail = `|${this.localEpoch}`;
      for (const lookup of lookups) {
        const { type } = lookup;
        lookup.key = `${type.head}${JSON.stringify(lookup.representation)}|${type.gensBefore}${gen(lookup.entityTag)}${type.gensAfter}${tail}`;
      }
    } catch (error) {
      this.storeFailed(error);
      return send(request);
    }

    const now = this.now();
    const l2Wanted: Lookup[] = [];
    for (const lookup of lookups) {
      const entry = this.l1.get(lookup.key);
      if (entry && entry.expiresAt > now) {
        cached.set(lookup.index, entry.value);
        lookup.type.l1Hits++;
      } else {
        if (entry) this.l1.delete(lookup.key);
        l2Wanted.push(lookup);
      }
    }
    for (const lookup of l2Wanted) lookup.storeKey = sha(lookup.key);
    if (useStore && l2Wanted.length > 0) {
      try {
        const values = await this.withStore((store) => store.mget(l2Wanted.map((l) => l.storeKey as string)));
        l2Wanted.forEach((lookup, i) => {
          const stored = values[i];
          if (stored == null) return;
          // Stored as `<expires at ms>|<entity JSON>`: the L1 copy expires with the L2 entry, not a TTL later.
          const bar = stored.indexOf('|');
          const expiresAt = Number(stored.slice(0, bar));
          if (bar < 0 || !(expiresAt > now)) return;
          const value = deepFreeze(JSON.parse(stored.slice(bar + 1)) as unknown);
          cached.set(lookup.index, value);
          this.l1.set(lookup.key, { value, expiresAt });
          lookup.type.l2Hits++;
        });
      } catch (error) {
        this.storeFailed(error);
        useStore = false;
      }
    }

    const missIndexes: number[] = [];
    for (let index = 0; index < reps.length; index++) if (!cached.has(index)) missIndexes.push(index);
    for (const lookup of lookups) if (!cached.has(lookup.index)) lookup.type.misses++;
    // Counted once per type and fetch: a labelled counter costs a hash of its labels per call.
    for (const { typename, l1Hits, l2Hits, misses } of typeLookups) {
      if (l1Hits > 0) entityCacheHits.inc({ subgraph, type: typename, tier: 'l1' }, l1Hits);
      if (l2Hits > 0) entityCacheHits.inc({ subgraph, type: typename, tier: 'l2' }, l2Hits);
      if (misses > 0) entityCacheMisses.inc({ subgraph, type: typename }, misses);
    }
    if (missIndexes.length === 0) {
      // Nothing to send: no request is built, signed or deduplicated for a fetch answered in full here.
      return { data: { _entities: reps.map((_, index) => cloneJson(cached.get(index))) } };
    }

    const response =
      missIndexes.length === reps.length
        ? await send(request)
        : await send({
            ...request,
            variables: { ...request.variables, representations: missIndexes.map((index) => reps[index]) },
          });
    const fetched = response.data?._entities;
    if (!Array.isArray(fetched) || fetched.length !== missIndexes.length) return response;

    // Entities the subgraph answered with an error (or any error it did not tie to one entity) are not stored.
    const failed = new Set<number>();
    let unscoped = false;
    const errors = response.errors?.map((error) => {
      const [root, position, ...rest] = error.path ?? [];
      if (root !== '_entities' || typeof position !== 'number') {
        unscoped = true;
        return error;
      }
      failed.add(position);
      return { ...error, path: ['_entities', missIndexes[position] as number, ...rest] };
    });

    const byIndex = new Map(lookups.map((lookup) => [lookup.index, lookup]));
    const writes: { key: string; value: string; ttlMs: number }[] = [];
    const merged: unknown[] = reps.map((_, index) => (cached.has(index) ? cloneJson(cached.get(index)) : null));
    missIndexes.forEach((index, position) => {
      const entity = fetched[position] as unknown;
      merged[index] = entity;
      const lookup = byIndex.get(index);
      // Nulls (unknown, deleted, not visible) are not cached: the next read asks the subgraph again.
      if (!lookup || entity == null || unscoped || failed.has(position)) return;
      const ttlMs = this.ttl(lookup.type.policy);
      const expiresAt = this.now() + ttlMs;
      // A copy: the gateway merges later fetches into the entity it gets (and into its nested objects).
      this.l1.set(lookup.key, { value: deepFreeze(cloneJson(entity)), expiresAt });
      if (useStore)
        writes.push({
          key: lookup.storeKey ?? sha(lookup.key),
          value: `${expiresAt}|${JSON.stringify(entity)}`,
          ttlMs,
        });
    });
    // Not awaited: the answer does not wait for Redis. A write landing after a bump is under the old generations.
    if (writes.length > 0)
      this.withStore((store) => store.mset(writes)).catch((error: unknown) => this.storeFailed(error));
    return { ...response, data: { ...response.data, _entities: merged }, ...(errors ? { errors } : {}) };
  }

  /** Bumps the tags a mutation sent to a subgraph invalidates, before the gateway answers it. */
  invalidateForMutation(request: SubgraphRequest, viewerId: string | null): Promise<void> {
    return this.invalidate(tagsForMutation(request.query ?? '', request.variables, viewerId), 'mutation');
  }

  /** Bumps tags here and in Redis; if Redis fails, the local bump stands and the epoch follows on recovery. */
  async invalidate(tags: readonly string[], source: 'mutation' | 'event', once?: string): Promise<void> {
    const unique = [...new Set(tags)];
    if (unique.length === 0) return;
    const now = this.now();
    for (const tag of unique) {
      entityCacheInvalidations.inc({ kind: tagKind(tag), source });
      // At once, before Redis answers: this process never reads an entry of before the bump again.
      this.generations.set(tag, { value: (this.generations.get(tag)?.value ?? 0) + 1, readAt: now });
    }
    if (!this.options.store) return;
    try {
      const values = await this.withStore((store) => store.bump(unique, this.generationKeyTtlMs(), once));
      const readAt = this.now();
      unique.forEach((tag, i) => this.generations.set(tag, { value: values[i] as number, readAt }));
    } catch (error) {
      this.bumpLost = true;
      this.storeFailed(error);
    }
  }

  /**
   * Bumps what a domain event invalidates, once per event in Redis however many callers handle it (every gateway,
   * and a subscription about to deliver the same event).
   */
  invalidateForEvent(subject: string, data: unknown): Promise<void> {
    const tags = tagsForEvent(subject, data);
    if (tags.length === 0) return Promise.resolve();
    const eventId = (data as { eventId?: unknown } | null)?.eventId;
    return this.invalidate(tags, 'event', typeof eventId === 'string' ? `${subject}:${eventId}` : undefined);
  }

  /** Listens to the subgraphs' events on the bus (each instance sees each event) and invalidates from them. */
  async listen(bus: EventBus): Promise<void> {
    for (const subject of INVALIDATION_SUBJECTS) {
      const subscription = await bus.subscribe<unknown>(subject, { onGap: (state) => this.eventGap(state) });
      this.subscriptions.push(subscription);
      void (async () => {
        for await (const event of subscription) await this.invalidateForEvent(event.subject, event.data);
      })().catch((error: unknown) => this.options.logger.error({ err: error }, 'entity cache invalidation stopped'));
    }
  }

  /**
   * The event listener was cut off from the broker: invalidations published meanwhile are lost to this gateway
   * (and, if every gateway was cut off, to Redis). While blind, fetches bypass the cache; once back, every entry
   * written before is dropped (the epoch, in Redis for every gateway, as after a lost bump), so what the cache
   * remembers is never older than the events: entries' TTLs are a bound only for what no event reports.
   */
  private eventGap(state: 'lost' | 'restored') {
    if (state === 'lost') {
      this.blindSubscriptions++;
      return;
    }
    if (this.blindSubscriptions === 0) return;
    this.blindSubscriptions--;
    if (this.options.store) this.bumpLost = true;
    else this.localEpoch++;
    entityCacheInvalidations.inc({ kind: 'epoch', source: 'event-gap' });
  }

  stop(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions = [];
  }

  /** A fetch's selection (its query and other variables), hashed once per query text while it has none. */
  private selectionKey(query: string, otherVariables: Record<string, unknown>): string {
    const variables = JSON.stringify(otherVariables);
    if (variables !== '{}') return sha(`${query}\n${variables}`);
    let key = this.selections.get(query);
    if (key === undefined) this.selections.set(query, (key = sha(`${query}\n${variables}`)));
    return key;
  }

  private ttl(policy: TypePolicy) {
    return Math.min(policy.ttlMs, this.options.maxTtlMs);
  }

  /** A generation counter outlives every entry written under it (so an expired counter never revives one). */
  private generationKeyTtlMs() {
    return 2 * this.options.maxTtlMs + this.options.generationTtlMs;
  }

  private storeUsable() {
    if (this.options.store === null || this.now() < this.storeDownUntil) return false;
    this.storeDown = false;
    return true;
  }

  /**
   * The generation of each tag: this process's copy while fresh, else Redis's (and 0 for a tag no one bumped).
   * Without any shared tier, this process's copies are the truth. With Redis unusable, a tag whose copy is stale
   * cannot be checked: the fetch bypasses the cache (StoreUnavailable).
   */
  private async currentGenerations(tags: readonly string[], useStore: boolean): Promise<Map<string, number>> {
    const now = this.now();
    const result = new Map<string, number>();
    const stale: string[] = [];
    for (const tag of new Set(tags)) {
      const known = this.generations.get(tag);
      if (known && (!this.options.store || now - known.readAt < this.options.generationTtlMs))
        result.set(tag, known.value);
      else if (!this.options.store) result.set(tag, 0);
      else stale.push(tag);
    }
    if (useStore && this.bumpLost) {
      // Bumps made while Redis was unreachable never reached it: drop every entry written before. A random step:
      // a Redis that came back empty must not count the epoch up to a value it had before.
      const step = randomInt(1, 2 ** 40);
      const [epoch] = await this.withStore((store) =>
        store.bump([Tags.epoch], this.generationKeyTtlMs(), undefined, step),
      );
      this.bumpLost = false;
      entityCacheInvalidations.inc({ kind: 'epoch', source: 'recovery' });
      this.generations.set(Tags.epoch, { value: epoch as number, readAt: this.now() });
      if (tags.includes(Tags.epoch)) result.set(Tags.epoch, epoch as number);
      stale.splice(0, stale.length, ...stale.filter((tag) => tag !== Tags.epoch));
    }
    if (stale.length === 0) return result;
    if (!useStore) throw new StoreUnavailable('entity cache store is unavailable');
    const values = await this.withStore((store) => store.generations(stale));
    const readAt = this.now();
    stale.forEach((tag, i) => {
      this.generations.set(tag, { value: values[i] as number, readAt });
      result.set(tag, values[i] as number);
    });
    return result;
  }

  private async withStore<T>(call: (store: EntityCacheStore) => Promise<T>): Promise<T> {
    const store = this.options.store;
    if (!store) throw new StoreUnavailable('no entity cache store');
    let armed: NodeJS.Immediate | undefined;
    let timer: NodeJS.Timeout | undefined;
    let late: NodeJS.Immediate | undefined;
    // Times Redis, not this process: the clock starts once the call is written (ioredis's auto-pipelining writes in
    // the check phase after the call, where `armed` runs next), and a timeout rejects only in the check phase after
    // its own, so that a reply already in the socket (a loop busy past the deadline runs timers before I/O) is taken.
    // Timed from the call instead, a gateway short of CPU can time its Redis calls out, bypass the cache and fall
    // further behind.
    const timeout = new Promise<never>((_, reject) => {
      armed = setImmediate(() => {
        timer = setTimeout(() => {
          late = setImmediate(() =>
            reject(new StoreUnavailable(`entity cache store slower than ${this.options.storeTimeoutMs} ms`)),
          );
        }, this.options.storeTimeoutMs);
      });
    });
    try {
      return await Promise.race([call(store), timeout]);
    } finally {
      clearImmediate(armed);
      clearTimeout(timer);
      clearImmediate(late);
    }
  }

  private storeFailed(error: unknown) {
    entityCacheBypasses.inc();
    if (!this.storeDown) this.options.logger.warn({ err: error }, 'entity cache store unavailable: bypassing it');
    this.storeDown = true;
    this.storeDownUntil = this.now() + (this.options.storeRetryMs ?? 1_000);
  }
}

/**
 * A copy of a JSON value (what JSON.parse of its JSON.stringify gives, for values that came from JSON.parse), a few
 * times cheaper than that round trip. A `__proto__` key stays an own property, as JSON.parse makes it.
 */
export function cloneJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = cloneJson(value[i]);
    return copy;
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = cloneJson((value as Record<string, unknown>)[key]);
    if (key === '__proto__')
      Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
    else copy[key] = item;
  }
  return copy;
}

/** Freezes a JSON value and everything in it: an L1 entry no reader can change for the next one. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

const fieldPatterns = new Map<string, RegExp>();

/**
 * Whether the query selects one of these fields, as a whole word (`followers` is not `followerCount`). Any
 * mention counts, in whichever type's fragment: at worst a shared type is cached per viewer.
 */
function selectsAny(query: string, fields: readonly string[] | undefined) {
  return (
    fields?.some((field) => {
      let pattern = fieldPatterns.get(field);
      if (!pattern) fieldPatterns.set(field, (pattern = new RegExp(`\\b${field}\\b`)));
      return pattern.test(query);
    }) ?? false
  );
}

function tagKind(tag: string) {
  if (tag === Tags.epoch) return 'epoch';
  if (tag.startsWith('v:')) return 'viewer';
  if (tag.startsWith('s:')) return 'subgraph';
  if (tag.startsWith('t:')) return 'type';
  return tag.split(':')[1] ?? 'other';
}
