import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { ErrorCode, env, sendJson } from '@insta/infra';

/** The gateway's CORS settings (README: "Security"). */
export const corsEnv = {
  /**
   * Comma-separated origins (`https://app.example.com`) browsers may call the gateway and open sockets from, or
   * `*` for any. Unset: none in production, any loopback origin (local dev servers) otherwise.
   */
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((value) =>
      value === undefined
        ? undefined
        : value
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean),
    )
    .refine(
      (origins) => origins === undefined || origins.every((o) => o === '*' || normaliseOrigin(o) !== null),
      'must be comma-separated origins like https://app.example.com, or *',
    ),
  /** Send `Access-Control-Allow-Credentials: true` to allowed origins (not needed for bearer tokens). */
  CORS_ALLOW_CREDENTIALS: env.bool(false),
};

export interface CorsSettings {
  NODE_ENV: string;
  CORS_ORIGINS: string[] | undefined;
  CORS_ALLOW_CREDENTIALS: boolean;
}

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
/** Request headers a browser may send: GraphQL over HTTP, Apollo's CSRF header, bearer tokens, client hints. */
const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'x-request-id',
  'dpr',
  'viewport-width',
  'save-data',
].join(', ');
/** Response headers a page may read. */
const EXPOSED_HEADERS = 'ratelimit, ratelimit-policy, retry-after';
const PREFLIGHT_MAX_AGE_SECONDS = '600';
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function normaliseOrigin(origin: string): string | null {
  try {
    const url = new URL(origin);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== origin.toLowerCase()) return null;
    return url.origin;
  } catch {
    return null;
  }
}

export interface CorsPolicy {
  /**
   * Whether a browser request or socket from `origin` may be served: no Origin (not a browser, or same-origin
   * GET), the gateway's own origin (its explorer), or an allowed origin.
   */
  allows(origin: string | undefined, headers: IncomingHttpHeaders): boolean;
  /**
   * Applies CORS to one HTTP request. Answers preflights (204 with the allowed methods and headers, or 403) and
   * refuses requests from origins not allowed (403); returns true when it answered, false to go on.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

export function corsPolicy(settings: CorsSettings): CorsPolicy {
  const configured = settings.CORS_ORIGINS;
  const anyOrigin = configured?.includes('*') ?? false;
  if (anyOrigin && settings.CORS_ALLOW_CREDENTIALS) {
    throw new Error('CORS_ALLOW_CREDENTIALS cannot be used with CORS_ORIGINS=*: list the origins');
  }
  const listed = new Set((configured ?? []).filter((o) => o !== '*').map((o) => normaliseOrigin(o)));
  const development = configured === undefined && settings.NODE_ENV !== 'production';

  const allowedCrossOrigin = (origin: string) => {
    if (anyOrigin) return true;
    const normal = normaliseOrigin(origin);
    if (!normal) return false;
    if (listed.has(normal)) return true;
    return development && LOOPBACK_HOSTS.has(new URL(normal).hostname);
  };
  const sameOrigin = (origin: string, headers: IncomingHttpHeaders) => {
    const normal = normaliseOrigin(origin);
    return normal !== null && headers.host !== undefined && new URL(normal).host === headers.host.toLowerCase();
  };
  const allows = (origin: string | undefined, headers: IncomingHttpHeaders) =>
    origin === undefined || sameOrigin(origin, headers) || allowedCrossOrigin(origin);

  return {
    allows,
    handle(req, res) {
      res.appendHeader('vary', 'Origin');
      const origin = req.headers.origin;
      const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
      if (origin === undefined || (!preflight && sameOrigin(origin, req.headers))) return false;
      if (!allows(origin, req.headers)) {
        const message = `Origin ${origin} is not allowed to call this API`;
        sendJson(res, 403, { errors: [{ message, extensions: { code: ErrorCode.Forbidden } }] });
        return true;
      }
      res.setHeader('access-control-allow-origin', anyOrigin ? '*' : origin);
      if (settings.CORS_ALLOW_CREDENTIALS) res.setHeader('access-control-allow-credentials', 'true');
      if (!preflight) {
        res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
        return false;
      }
      res.writeHead(204, {
        'access-control-allow-methods': ALLOWED_METHODS,
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': PREFLIGHT_MAX_AGE_SECONDS,
        'content-length': '0',
      });
      res.end();
      return true;
    },
  };
}
