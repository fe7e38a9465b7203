import { randomUUID } from 'node:crypto';

/**
 * A well-behaved client of the public API for fault tests: it retries what the API calls retryable
 * (`SERVICE_UNAVAILABLE`, HTTP 502/503/504, a refused or reset connection) with the same idempotency key, and
 * fails the test on anything else. It counts what it saw, so a test can assert which failures were visible.
 */
export interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; retryAfterSeconds?: number; [key: string]: unknown };
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errors: GraphQLErrorShape[],
  ) {
    super(message);
  }
}

export interface ClientStats {
  requests: number;
  retries: number;
  /** Retryable answers by code (`SERVICE_UNAVAILABLE`, `HTTP_503`, `NETWORK`, ...). */
  retryable: Record<string, number>;
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);

export class ApiClient {
  readonly stats: ClientStats = { requests: 0, retries: 0, retryable: {} };

  constructor(
    private readonly url: () => string,
    private readonly options: { retryForMs?: number } = {},
  ) {}

  private count(kind: string) {
    this.stats.retryable[kind] = (this.stats.retryable[kind] ?? 0) + 1;
  }

  /** One request; returns the parsed answer, or a string naming the retryable failure. */
  private async once(query: string, variables: Record<string, unknown>, token?: string) {
    this.stats.requests++;
    let res: Response;
    try {
      res = await fetch(this.url(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch {
      return { retry: 'NETWORK' as const };
    }
    const text = await res.text().catch(() => '');
    let body: { data?: Record<string, any> | null; errors?: GraphQLErrorShape[] } = {};
    try {
      body = JSON.parse(text);
    } catch {
      if (RETRYABLE_STATUS.has(res.status)) return { retry: `HTTP_${res.status}` };
      throw new ApiError(`unparseable answer (${res.status}): ${text.slice(0, 200)}`, res.status, []);
    }
    const codes = (body.errors ?? []).map((e) => e.extensions?.code);
    if (codes.includes('SERVICE_UNAVAILABLE')) return { retry: 'SERVICE_UNAVAILABLE' };
    if (RETRYABLE_STATUS.has(res.status)) return { retry: `HTTP_${res.status}` };
    return { status: res.status, body };
  }

  /** Runs the operation until it succeeds (retrying retryable failures); throws ApiError on any other error. */
  async gql<T = Record<string, any>>(
    query: string,
    variables: Record<string, unknown> = {},
    token?: string,
  ): Promise<T> {
    const deadline = Date.now() + (this.options.retryForMs ?? 90_000);
    for (let attempt = 1; ; attempt++) {
      const answer = await this.once(query, variables, token);
      if ('retry' in answer) {
        this.count(answer.retry as string);
        if (Date.now() > deadline) throw new ApiError(`still failing (${answer.retry}) after retries`, 503, []);
        this.stats.retries++;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(attempt, 5), 2_000)));
        continue;
      }
      if (answer.body.errors?.length || !answer.body.data) {
        throw new ApiError(
          `GraphQL error (${answer.status}): ${JSON.stringify(answer.body.errors)}`,
          answer.status,
          answer.body.errors ?? [],
        );
      }
      return answer.body.data as T;
    }
  }
}

export interface Account {
  id: string;
  username: string;
  token: string;
  refreshToken: string;
}

export async function signUp(client: ApiClient, username: string): Promise<Account> {
  const data = await client.gql(
    'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken user { id } } }',
    { i: { username, email: `${username}@example.com`, password: 'a long enough password' } },
  );
  return { id: data.signUp.user.id, username, token: data.signUp.accessToken, refreshToken: data.signUp.refreshToken };
}

/** Signs in again (a sign-up retried after a lost answer would conflict on the username). */
export async function signUpOrIn(client: ApiClient, username: string): Promise<Account> {
  try {
    return await signUp(client, username);
  } catch (error) {
    if (!(error instanceof ApiError) || error.errors[0]?.extensions?.code !== 'CONFLICT') throw error;
    const data = await client.gql(
      'mutation($i: SignInInput!) { signIn(input: $i) { accessToken refreshToken user { id } } }',
      { i: { login: username, password: 'a long enough password' } },
    );
    return {
      id: data.signIn.user.id,
      username,
      token: data.signIn.accessToken,
      refreshToken: data.signIn.refreshToken,
    };
  }
}

/** Runs `tasks` with at most `limit` at a time. */
export async function pool<T, R>(
  items: T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index]!, index);
      }
    }),
  );
  return results;
}

export const uniqueName = (tag: string) => `${tag}_${randomUUID().slice(0, 8)}`;

export async function createPost(client: ApiClient, author: Account, text: string): Promise<string> {
  // The same idempotency key on every retry: a post whose answer was lost is not created twice.
  const data = await client.gql(
    'mutation($i: CreatePostInput!) { createPost(input: $i) { id } }',
    { i: { text, idempotencyKey: randomUUID() } },
    author.token,
  );
  return data.createPost.id;
}

/** Every post id of the viewer's home feed, newest first, all pages. */
export async function wholeFeed(client: ApiClient, viewer: Account): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const data: any = await client.gql(
      'query($after: String) { feed(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }',
      { after },
      viewer.token,
    );
    for (const edge of data.feed.edges) if (edge.node) ids.push(edge.node.id);
    if (!data.feed.pageInfo.hasNextPage) return ids;
    after = data.feed.pageInfo.endCursor;
  }
}

/** What is wrong with `feed` given the posts it must hold exactly once (missing, duplicated, unexpected). */
export function feedDefects(feed: string[], expected: Iterable<string>) {
  const want = new Set(expected);
  const seen = new Map<string, number>();
  for (const id of feed) seen.set(id, (seen.get(id) ?? 0) + 1);
  return {
    missing: [...want].filter((id) => !seen.has(id)).length,
    duplicated: [...seen.values()].filter((n) => n > 1).length,
    unexpected: [...seen.keys()].filter((id) => !want.has(id)).length,
  };
}

/**
 * Polls `check` until it returns true (or the deadline passes) and returns how long that took: the time to
 * converge after a fault, which the tests report rather than assert tightly.
 */
export async function converge(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<number> {
  const started = Date.now();
  let lastError: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      if (await check()) return Date.now() - started;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`did not converge within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
}

export async function like(client: ApiClient, viewer: Account, postId: string): Promise<void> {
  await client.gql('mutation($id: ID!) { likePost(postId: $id) { id } }', { id: postId }, viewer.token);
}

export async function likeCount(client: ApiClient, viewer: Account, postId: string): Promise<number> {
  const data = await client.gql('query($id: ID!) { post(id: $id) { likeCount } }', { id: postId }, viewer.token);
  return data.post.likeCount;
}

/** The viewer's LIKE notifications, as post id → actorCount; throws if one post has two groups. */
export async function likeNotifications(client: ApiClient, viewer: Account): Promise<Map<string, number>> {
  const data = await client.gql(
    '{ notifications(first: 100) { edges { node { type actorCount post { id } } } } }',
    {},
    viewer.token,
  );
  const groups = new Map<string, number>();
  for (const { node } of data.notifications.edges) {
    if (node.type !== 'LIKE' || !node.post) continue;
    if (groups.has(node.post.id)) throw new Error(`two LIKE notification groups for post ${node.post.id}`);
    groups.set(node.post.id, node.actorCount);
  }
  return groups;
}

/** Uploads `file` through the pre-signed POST and completes it; returns the media id (processing may go on). */
export async function upload(client: ApiClient, owner: Account, file: Buffer, contentType: string): Promise<string> {
  const { requestUpload: ticket } = await client.gql(
    'mutation($i: RequestUploadInput!) { requestUpload(input: $i) { media { id } url fields { name value } } }',
    { i: { contentType, size: file.length } },
    owner.token,
  );
  const form = new FormData();
  for (const { name, value } of ticket.fields as { name: string; value: string }[]) form.append(name, value);
  form.append('file', new Blob([file], { type: contentType }), 'upload');
  const res = await fetch(ticket.url, { method: 'POST', body: form });
  await res.arrayBuffer();
  if (res.status >= 300) throw new Error(`upload answered ${res.status}`);
  await client.gql('mutation($id: ID!) { completeUpload(mediaId: $id) { id } }', { id: ticket.media.id }, owner.token);
  return ticket.media.id;
}

export async function mediaStatus(client: ApiClient, owner: Account, mediaId: string): Promise<string> {
  return (await client.gql('query($id: ID!) { media(id: $id) { status } }', { id: mediaId }, owner.token)).media.status;
}
