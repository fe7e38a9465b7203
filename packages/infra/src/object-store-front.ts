import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';

/**
 * A verifying front for the embedded object store (s3rver accepts any signature and ignores POST policies). It
 * enforces what S3 itself would, so that embedded mode is not the weak spot of a newcomer's install:
 *
 * - every request but an anonymous GET/HEAD of a public object carries a valid AWS SigV4 signature (header or
 *   pre-signed query) made with the store's own credentials, and fresh; a signed body is checked against its hash;
 * - anonymous requests may only read objects under the public prefixes: no listing, no writes, no deletes, no
 *   reading originals or private media;
 * - browser POST uploads are checked against their policy (signature, expiration, every condition, every field
 *   covered by one, `content-length-range` on the file's real size) and only then stored, by the front, with the
 *   policy's key and Content-Type;
 * - keys that could leave the store's folder or touch s3rver's own files (`..`, absolute, backslash, control
 *   characters, `._S3rver`) are refused.
 * It never serves anything itself: what passes goes to s3rver unchanged (POST uploads as a PUT). CORS is the
 * front's too (s3rver behind it has no rules): browsers upload with the pre-signed POST and play media from
 * another origin than the page's (the gateway's /app), so the allowed origins may GET, HEAD and POST, as on a
 * public bucket behind a CDN; a preflight is answered here, before any signature is asked for.
 */
export interface ObjectStoreFrontOptions {
  /** Where s3rver listens (loopback). */
  upstream: { host: string; port: number };
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Keys anyone may GET or HEAD without a signature (public media). */
  publicReadPrefixes: readonly string[];
  /** Origins browsers may GET, HEAD and POST from (`*`: any, the default, as on a public bucket). */
  corsOrigins?: '*' | readonly string[];
  /** Largest signed request body (PUT of a variant, DeleteObjects) buffered to check its hash. */
  maxSignedBodyBytes?: number;
  now?: () => number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_CLOCK_SKEW_MS = 15 * 60_000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
const UNSIGNED = 'UNSIGNED-PAYLOAD';
/** The account s3rver is born with. */
const UPSTREAM_ACCESS_KEY = 'S3RVER';

export class S3Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
const denied = (message: string) => new S3Refusal(403, 'AccessDenied', message);
const bad = (code: string, message: string) => new S3Refusal(400, code, message);

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

function signingKey(secret: string, day: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), 's3'), 'aws4_request');
}

const safeEqual = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** RFC 3986 encoding, as SigV4 wants it for query strings. */
const strictEncode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function parseQuery(search: string): [string, string][] {
  if (!search) return [];
  return search.split('&').flatMap((pair) => {
    if (!pair) return [];
    const i = pair.indexOf('=');
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, '%20'));
    return [i < 0 ? [decode(pair), ''] : [decode(pair.slice(0, i)), decode(pair.slice(i + 1))]] as [string, string][];
  });
}

/**
 * A key s3rver can store without leaving its folder or overwriting its own bookkeeping files. S3 itself allows
 * more (it has no folders), but no key this application writes needs any of it.
 */
export function isSafeKey(key: string): boolean {
  if (key.length === 0 || Buffer.byteLength(key) > 1024) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(key) || key.startsWith('/')) return false;
  return key
    .split('/')
    .every((segment) => segment !== '.' && segment !== '..' && segment !== '' && !segment.includes('._S3rver'));
}

interface ParsedTarget {
  bucket: string;
  /** Decoded object key; null for a bucket-level request. */
  key: string | null;
  rawPath: string;
  query: [string, string][];
}

function parseTarget(url: string): ParsedTarget {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = parseQuery(q < 0 ? '' : url.slice(q + 1));
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw bad('InvalidURI', 'The path is not valid percent-encoding');
  }
  const slash = path.indexOf('/', 1);
  const bucket = slash < 0 ? path.slice(1) : path.slice(1, slash);
  const key = slash < 0 || slash === path.length - 1 ? null : path.slice(slash + 1);
  return { bucket, key, rawPath, query };
}

function canonicalHeaders(req: IncomingMessage, signed: string[]): string {
  return signed
    .map((name) => {
      const value = req.headers[name];
      if (value === undefined) throw denied(`Signed header ${name} is missing`);
      const joined = Array.isArray(value) ? value.join(',') : value;
      return `${name}:${joined.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
}

function canonicalQuery(query: [string, string][]): string {
  return query
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [strictEncode(k), strictEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** `X-Amz-Date` (20261201T101500Z) as epoch ms, or NaN. */
function amzDateMs(amzDate: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s] = m;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}

export interface SignatureCheck {
  /** The body hash the signature covers: a hex SHA-256 to check, or UNSIGNED-PAYLOAD. */
  payloadHash: string;
}

/** Verifies a SigV4 request (Authorization header or pre-signed query); throws S3Refusal when it is not valid. */
export function verifySignedRequest(
  req: IncomingMessage,
  target: ParsedTarget,
  options: Pick<ObjectStoreFrontOptions, 'accessKeyId' | 'secretAccessKey' | 'region'>,
  nowMs: number,
): SignatureCheck {
  const auth = req.headers.authorization;
  const queryMap = new Map(target.query);
  let credential: string;
  let signedHeaders: string[];
  let signature: string;
  let amzDate: string;
  let payloadHash: string;
  if (auth) {
    const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(
      auth.trim(),
    );
    if (!m) throw bad('AuthorizationHeaderMalformed', 'Only AWS4-HMAC-SHA256 signatures are accepted');
    [, credential, , signature] = m as unknown as [string, string, string, string];
    signedHeaders = m[2]!.split(';');
    amzDate = String(req.headers['x-amz-date'] ?? '');
    payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
    if (payloadHash !== UNSIGNED && !/^[0-9a-f]{64}$/.test(payloadHash)) {
      throw bad('InvalidArgument', 'x-amz-content-sha256 must be a SHA-256 or UNSIGNED-PAYLOAD');
    }
    const at = amzDateMs(amzDate);
    if (!(Math.abs(nowMs - at) <= MAX_CLOCK_SKEW_MS)) throw denied('The request time is too far from the server time');
  } else {
    if (queryMap.get('X-Amz-Algorithm') !== ALGORITHM) throw denied('Anonymous access is not allowed here');
    credential = queryMap.get('X-Amz-Credential') ?? '';
    signedHeaders = (queryMap.get('X-Amz-SignedHeaders') ?? '').split(';');
    signature = queryMap.get('X-Amz-Signature') ?? '';
    amzDate = queryMap.get('X-Amz-Date') ?? '';
    payloadHash = queryMap.get('X-Amz-Content-Sha256') ?? UNSIGNED;
    const expires = Number(queryMap.get('X-Amz-Expires'));
    const at = amzDateMs(amzDate);
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_SECONDS || Number.isNaN(at)) {
      throw denied('Malformed pre-signed URL');
    }
    if (nowMs > at + expires * 1000) throw denied('Request has expired');
    if (at - nowMs > MAX_CLOCK_SKEW_MS) throw denied('The request time is too far from the server time');
  }
  const [accessKey, day, region, service, terminator, ...rest] = credential.split('/');
  if (accessKey !== options.accessKeyId || rest.length > 0) throw denied('The access key is not known');
  if (day !== amzDate.slice(0, 8) || region !== options.region || service !== 's3' || terminator !== 'aws4_request') {
    throw denied('The credential scope does not match');
  }
  if (!signedHeaders.includes('host')) throw denied('The host header must be signed');
  const canonical = [
    req.method ?? 'GET',
    target.rawPath,
    canonicalQuery(target.query),
    canonicalHeaders(req, signedHeaders),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
  const expected = hmac(signingKey(options.secretAccessKey, day, region), stringToSign).toString('hex');
  if (!safeEqual(expected, signature)) throw denied('The request signature does not match');
  return { payloadHash };
}

type PolicyCondition = Record<string, string> | [string, ...(string | number)[]];

/** Every form field S3 expects to be matched by a condition, except these. */
const UNCONDITIONED_FIELDS = new Set(['policy', 'x-amz-signature', 'file']);

/**
 * Checks a browser POST upload's form fields (everything before the file) against its policy, as S3 does.
 * Returns the key, the Content-Type and the allowed size range of the file.
 */
export function verifyPostPolicy(
  rawFields: Record<string, string>,
  bucket: string,
  options: Pick<ObjectStoreFrontOptions, 'accessKeyId' | 'secretAccessKey' | 'region'>,
  nowMs: number,
): { key: string; contentType: string; minBytes: number; maxBytes: number; successStatus: number } {
  const fields = new Map(Object.entries(rawFields).map(([k, v]) => [k.toLowerCase(), v]));
  const policyB64 = fields.get('policy');
  const signature = fields.get('x-amz-signature');
  if (!policyB64 || !signature) throw denied('A POST upload needs a Policy and its X-Amz-Signature');
  if (fields.get('x-amz-algorithm') !== ALGORITHM)
    throw bad('InvalidArgument', 'Only AWS4-HMAC-SHA256 policies are accepted');
  const amzDate = fields.get('x-amz-date') ?? '';
  const [accessKey, day, region, service, terminator, ...rest] = (fields.get('x-amz-credential') ?? '').split('/');
  if (accessKey !== options.accessKeyId || rest.length > 0) throw denied('The access key is not known');
  if (day !== amzDate.slice(0, 8) || region !== options.region || service !== 's3' || terminator !== 'aws4_request') {
    throw denied('The credential scope does not match');
  }
  const expected = hmac(signingKey(options.secretAccessKey, day, region), policyB64).toString('hex');
  if (!safeEqual(expected, signature)) throw denied('The policy signature does not match');

  let policy: { expiration?: unknown; conditions?: unknown };
  try {
    policy = JSON.parse(Buffer.from(policyB64, 'base64').toString('utf8')) as typeof policy;
  } catch {
    throw bad('InvalidPolicyDocument', 'The policy is not JSON');
  }
  const expiration = typeof policy.expiration === 'string' ? Date.parse(policy.expiration) : Number.NaN;
  if (!(expiration > nowMs)) throw denied('Invalid according to Policy: Policy expired');
  if (!Array.isArray(policy.conditions)) throw bad('InvalidPolicyDocument', 'The policy has no conditions');

  const valueOf = (name: string) => (name === 'bucket' ? bucket : fields.get(name));
  const covered = new Set<string>();
  let range: [number, number] | null = null;
  const fail = (what: string) => denied(`Invalid according to Policy: Policy Condition failed: ${what}`);
  for (const condition of policy.conditions as PolicyCondition[]) {
    if (Array.isArray(condition)) {
      const [op, a, b] = condition;
      if (op === 'content-length-range') {
        range = [Number(a), Number(b)];
        continue;
      }
      const name = String(a).replace(/^\$/, '').toLowerCase();
      const actual = valueOf(name);
      covered.add(name);
      if (op === 'eq' && actual !== String(b)) throw fail(`["eq", "$${name}", ...]`);
      if (op === 'starts-with' && !(actual ?? '').startsWith(String(b))) throw fail(`["starts-with", "$${name}", ...]`);
      if (op !== 'eq' && op !== 'starts-with') throw bad('InvalidPolicyDocument', `Unknown condition ${String(op)}`);
    } else if (condition && typeof condition === 'object') {
      for (const [rawName, value] of Object.entries(condition)) {
        const name = rawName.toLowerCase();
        covered.add(name);
        if (valueOf(name) !== value) throw fail(`{"${rawName}": ...}`);
      }
    }
  }
  for (const name of fields.keys()) {
    if (!UNCONDITIONED_FIELDS.has(name) && !name.startsWith('x-ignore-') && !covered.has(name)) {
      throw fail(`extra input field ${name}`);
    }
  }
  const key = fields.get('key');
  if (!key || !covered.has('key')) throw fail('the key must be named by the policy');
  if (key.includes('${filename}') || !isSafeKey(key)) throw bad('InvalidArgument', 'This key is not allowed');
  const successStatus = Number(fields.get('success_action_status') ?? 204);
  return {
    key,
    contentType: fields.get('content-type') ?? 'binary/octet-stream',
    minBytes: range ? range[0] : 0,
    maxBytes: range ? range[1] : Number.MAX_SAFE_INTEGER,
    successStatus: [200, 201, 204].includes(successStatus) ? successStatus : 204,
  };
}

const CORS_METHODS = ['GET', 'HEAD', 'POST'];
const CORS_MAX_AGE_SECONDS = 3000;

/** The CORS headers of an answer to `req`: none when it has no Origin or one that is not allowed. */
function corsHeaders(req: IncomingMessage, origins: '*' | readonly string[]): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin) return {};
  if (origins === '*') return { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'ETag' };
  if (!origins.includes(origin)) return {};
  return { 'access-control-allow-origin': origin, 'access-control-expose-headers': 'ETag', vary: 'Origin' };
}

/** Answers a CORS preflight (OPTIONS with Access-Control-Request-Method) for GET, HEAD and POST. */
function answerPreflight(req: IncomingMessage, res: ServerResponse, origins: '*' | readonly string[]) {
  const cors = corsHeaders(req, origins);
  const method = String(req.headers['access-control-request-method'] ?? '');
  if (!cors['access-control-allow-origin'] || !CORS_METHODS.includes(method)) {
    return sendError(res, denied('CORSResponse: This CORS request is not allowed'), {});
  }
  const requested = req.headers['access-control-request-headers'];
  res.writeHead(200, {
    ...cors,
    'access-control-allow-methods': CORS_METHODS.join(', '),
    ...(requested ? { 'access-control-allow-headers': String(requested) } : {}),
    'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
    'content-length': 0,
  });
  res.end();
}

function sendError(res: ServerResponse, error: S3Refusal, cors: Record<string, string>) {
  if (res.headersSent) return void res.destroy();
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${error.message.replace(/[<&>]/g, '')}</Message></Error>`;
  res.writeHead(error.status, {
    ...cors,
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}

async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw bad('EntityTooLarge', 'The signed body is too large for this store');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Starts the front on host:port (loopback only) and resolves with its address. */
export async function startObjectStoreFront(
  options: ObjectStoreFrontOptions & { host: string; port: number },
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  if (!['127.0.0.1', '::1', 'localhost'].includes(options.host)) {
    throw new Error(`The embedded object store listens on loopback only, not ${options.host}`);
  }
  const now = options.now ?? Date.now;
  const maxSignedBody = options.maxSignedBodyBytes ?? 64 * 1024 * 1024;
  const origins = options.corsOrigins ?? '*';
  const cors = (req: IncomingMessage) => corsHeaders(req, origins);

  // s3rver knows one account of its own (S3RVER) and checks only that a V4 request names it: the front, having
  // verified the signature, names that account instead of ours.
  const upstreamCredential = (value: string) => value.split(options.accessKeyId).join(UPSTREAM_ACCESS_KEY);
  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer | NodeJS.ReadableStream) => {
    const headers = { ...req.headers };
    if (headers.authorization) headers.authorization = upstreamCredential(headers.authorization);
    const upstream = httpRequest(
      {
        host: options.upstream.host,
        port: options.upstream.port,
        method: req.method,
        path: upstreamCredential(req.url ?? '/'),
        headers,
      },
      (answer) => {
        const headers = Object.fromEntries(
          Object.entries(answer.headers).filter(([name]) => !name.startsWith('access-control-')),
        );
        res.writeHead(answer.statusCode ?? 502, { ...headers, ...cors(req) });
        answer.pipe(res);
      },
    );
    upstream.on('error', () =>
      sendError(res, new S3Refusal(502, 'ServiceUnavailable', 'The object store is not reachable'), cors(req)),
    );
    if (Buffer.isBuffer(body)) upstream.end(body);
    else body.pipe(upstream);
  };

  const postUpload = async (req: IncomingMessage, res: ServerResponse, bucket: string) => {
    const dir = await mkdtemp(join(tmpdir(), 'object-store-front-'));
    try {
      const fields: Record<string, string> = {};
      const file = join(dir, 'upload');
      const accepted = await new Promise<ReturnType<typeof verifyPostPolicy> | null>((resolve, reject) => {
        const form = busboy({ headers: req.headers, limits: { fields: 50, fieldSize: 64 * 1024, files: 1 } });
        let sawFile = false;
        form.on('field', (name, value) => {
          fields[name] = value;
        });
        form.on('file', (name, stream) => {
          sawFile = true;
          if (name !== 'file') return reject(bad('InvalidArgument', 'The file must be the field named "file"'));
          let checked: ReturnType<typeof verifyPostPolicy>;
          try {
            checked = verifyPostPolicy(fields, bucket, options, now());
          } catch (error) {
            stream.resume();
            return reject(error);
          }
          let size = 0;
          stream.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > checked.maxBytes)
              stream.destroy(bad('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size'));
          });
          pipeline(stream, createWriteStream(file)).then(() => {
            if (size < checked.minBytes)
              reject(bad('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size'));
            else resolve(checked);
          }, reject);
        });
        form.on('error', (error: unknown) =>
          reject(error instanceof S3Refusal ? error : bad('MalformedPOSTRequest', 'The form is malformed')),
        );
        form.on('close', () => {
          if (!sawFile) reject(bad('InvalidArgument', 'POST requires exactly one file upload per request'));
        });
        req.pipe(form);
      });
      if (!accepted) return;
      const { size } = await stat(file);
      const encodedKey = accepted.key.split('/').map(encodeURIComponent).join('/');
      const etag = await new Promise<string | undefined>((resolve, reject) => {
        const put = httpRequest(
          {
            host: options.upstream.host,
            port: options.upstream.port,
            method: 'PUT',
            path: `/${encodeURIComponent(bucket)}/${encodedKey}`,
            headers: { 'content-type': accepted.contentType, 'content-length': size },
          },
          (answer) => {
            answer.resume();
            if ((answer.statusCode ?? 500) >= 300)
              reject(new S3Refusal(502, 'InternalError', 'The object could not be stored'));
            else answer.on('end', () => resolve(answer.headers.etag));
          },
        );
        put.on('error', reject);
        createReadStream(file).pipe(put);
      });
      res.writeHead(accepted.successStatus, {
        ...cors(req),
        ...(etag ? { etag } : {}),
        location: `/${bucket}/${encodedKey}`,
        'content-length': 0,
      });
      res.end();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // A preflight carries no credentials by design: answered from the CORS rules, before anything is checked.
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined)
      return answerPreflight(req, res, origins);
    const target = parseTarget(req.url ?? '/');
    if (target.bucket !== options.bucket)
      throw new S3Refusal(404, 'NoSuchBucket', 'The specified bucket does not exist');
    if (target.key !== null && !isSafeKey(target.key)) throw bad('InvalidArgument', 'This key is not allowed');
    const method = req.method ?? 'GET';
    const signed = req.headers.authorization !== undefined || target.query.some(([k]) => k === 'X-Amz-Signature');
    if (!signed) {
      if (method === 'POST' && target.key === null && target.query.length === 0)
        return postUpload(req, res, target.bucket);
      const readable = (method === 'GET' || method === 'HEAD') && target.key !== null && target.query.length === 0;
      if (readable && options.publicReadPrefixes.some((prefix) => target.key!.startsWith(prefix)))
        return forward(req, res, req);
      throw denied('Anonymous access is not allowed here');
    }
    const { payloadHash } = verifySignedRequest(req, target, options, now());
    if (payloadHash === UNSIGNED) return forward(req, res, req);
    const body = await readLimited(req, maxSignedBody);
    if (sha256Hex(body) !== payloadHash)
      throw bad('XAmzContentSHA256Mismatch', 'The body does not match its signed hash');
    forward(req, res, body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const refusal = error instanceof S3Refusal ? error : new S3Refusal(500, 'InternalError', 'Internal error');
      sendError(res, refusal, cors(req));
      if (!(error instanceof S3Refusal)) req.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Credentials for one run of the embedded store: generated, never a well-known pair. */
export const generatedCredentials = () => ({
  accessKeyId: `EMBEDDED${randomUUID().replace(/-/g, '').slice(0, 12).toUpperCase()}`,
  secretAccessKey: randomUUID() + randomUUID(),
});
