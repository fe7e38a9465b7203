import type { ApolloServerPlugin } from '@apollo/server';
import { z } from 'zod';
import {
  ErrorCode,
  env,
  isTransientError,
  rateLimitRejections,
  type Identity,
  type KeyValueStore,
  type Logger,
  type TokenBucketResult,
} from '@insta/infra';
import type { ClientInfo, GatewayContext } from '../context.ts';
import { graphql } from '../graphql-runtime.ts';
import { classifyOperation, type OperationClass } from './operation-class.ts';

/** A bucket of `capacity` requests that refills completely in `windowSeconds`. */
export interface RateLimitPolicy {
  capacity: number;
  windowSeconds: number;
}

const policy = (fallback: string) =>
  z
    .string()
    .regex(/^\d+\/\d+$/, 'must be "<requests>/<seconds>", e.g. 60/60')
    .default(fallback)
    .transform((value): RateLimitPolicy => {
      const [capacity, windowSeconds] = value.split('/').map(Number) as [number, number];
      return { capacity, windowSeconds };
    })
    .refine((p) => p.capacity >= 1 && p.windowSeconds >= 1, 'both numbers must be at least 1');

/** The gateway's rate-limit settings (README: "Security"). */
export const rateLimitEnv = {
  RATE_LIMITS: env.bool(true),
  RATE_LIMIT_AUTH: policy('20/60'),
  RATE_LIMIT_UPLOAD: policy('30/60'),
  RATE_LIMIT_WRITE: policy('120/60'),
  RATE_LIMIT_SEARCH: policy('60/60'),
  RATE_LIMIT_READ: policy('600/60'),
};
type RateLimitSettings = { [K in keyof typeof rateLimitEnv]: z.output<(typeof rateLimitEnv)[K]> };

/** What one request was allowed, for the IETF RateLimit headers. */
export interface RateLimitDecision {
  class: OperationClass;
  policy: RateLimitPolicy;
  result: TokenBucketResult;
}

/** Classes that still run, unmetered, while the store is down; the others answer SERVICE_UNAVAILABLE. */
const FAIL_OPEN: ReadonlySet<OperationClass> = new Set(['read', 'search']);
const STORE_DOWN_RETRY_SECONDS = 5;

/**
 * Token buckets in the KV store, one per (class, subject): the signed-in user, or the client IP for anonymous
 * requests and always for `auth` (signing up and in happen before there is a user; the users subgraph adds its
 * own per-account buckets for sign-in). Each request is one atomic round trip and takes one token per root
 * field. If the store fails, reads fail open (logged) and the rest fail closed: an unmetered argon2 or write
 * flood is what these limits are for (ADR 12).
 */
export class RateLimiter {
  private readonly policies: Record<OperationClass, RateLimitPolicy>;

  constructor(
    private readonly kv: Pick<KeyValueStore, 'takeTokens'>,
    settings: RateLimitSettings,
    private readonly logger: Logger,
  ) {
    this.policies = {
      auth: settings.RATE_LIMIT_AUTH,
      upload: settings.RATE_LIMIT_UPLOAD,
      write: settings.RATE_LIMIT_WRITE,
      search: settings.RATE_LIMIT_SEARCH,
      read: settings.RATE_LIMIT_READ,
    };
  }

  /**
   * Takes `tokens` for one request; the decision says whether they were there (`rateLimitedError` makes the
   * refusal). Null when the store failed on a read (let through); SERVICE_UNAVAILABLE when it failed otherwise.
   */
  async take(
    operationClass: OperationClass,
    identity: Identity | null,
    client: ClientInfo,
    tokens = 1,
  ): Promise<RateLimitDecision | null> {
    const policy = this.policies[operationClass];
    const subject = identity && operationClass !== 'auth' ? `user:${identity.userId}` : `ip:${client.ip}`;
    const bucket = { capacity: policy.capacity, refillPerSecond: policy.capacity / policy.windowSeconds };
    let result: TokenBucketResult;
    try {
      result = await this.kv.takeTokens(`ratelimit:${operationClass}:${subject}`, bucket, tokens);
    } catch (error) {
      if (FAIL_OPEN.has(operationClass)) {
        this.logger.warn({ err: error, class: operationClass }, 'rate limit store failed: letting the read through');
        return null;
      }
      if (!isTransientError(error)) throw error;
      throw new graphql.GraphQLError('Rate limits are unavailable; try again shortly', {
        extensions: {
          code: ErrorCode.ServiceUnavailable,
          retryAfterSeconds: STORE_DOWN_RETRY_SECONDS,
          http: { status: 503 },
        },
      });
    }
    return { class: operationClass, policy, result };
  }
}

export const retryAfterSeconds = ({ result }: RateLimitDecision) => Math.max(1, Math.ceil(result.retryAfterMs / 1000));

/** RATE_LIMITED (HTTP 429) with `retryAfterSeconds`; counted in gateway_rate_limit_rejections_total. */
export function rateLimitedError(decision: RateLimitDecision) {
  rateLimitRejections.inc({ class: decision.class });
  const seconds = retryAfterSeconds(decision);
  return new graphql.GraphQLError(`Too many ${decision.class} requests; try again in ${seconds} s`, {
    extensions: { code: ErrorCode.RateLimited, retryAfterSeconds: seconds, http: { status: 429 } },
  });
}

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): the policy (`q` requests per `w` seconds)
 * and what is left of it (`r`, with `t` seconds until the bucket is full again), plus Retry-After when refused.
 */
export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  const { policy, result } = decision;
  const name = `"${decision.class}"`;
  const headers: Record<string, string> = {
    'ratelimit-policy': `${name};q=${policy.capacity};w=${policy.windowSeconds}`,
    ratelimit: `${name};r=${result.remaining};t=${Math.ceil(result.resetMs / 1000)}`,
  };
  if (!result.allowed) headers['retry-after'] = String(retryAfterSeconds(decision));
  return headers;
}

/**
 * Rate limits on Apollo Server (HTTP, and queries and mutations sent over websockets). Requests without
 * `contextValue.client` are the gateway's own (subscription visibility checks) and are not limited.
 */
export function rateLimitPlugin(limiter: RateLimiter): ApolloServerPlugin<GatewayContext> {
  return {
    requestDidStart: async () => {
      let decision: RateLimitDecision | null = null;
      let storeDown = false;
      return {
        didResolveOperation: async ({ contextValue, document, operation }) => {
          const { client, identity } = contextValue;
          if (!client || !operation) return;
          const classified = classifyOperation(document, operation);
          try {
            decision = await limiter.take(classified.class, identity, client, classified.rootFields);
          } catch (error) {
            storeDown = true;
            throw error;
          }
          if (decision && !decision.result.allowed) throw rateLimitedError(decision);
        },
        willSendResponse: async ({ response }) => {
          if (storeDown) response.http.headers.set('retry-after', String(STORE_DOWN_RETRY_SECONDS));
          if (!decision) return;
          for (const [name, value] of Object.entries(rateLimitHeaders(decision)))
            response.http.headers.set(name, value);
        },
      };
    },
  };
}
