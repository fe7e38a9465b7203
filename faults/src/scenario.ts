import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  type Account,
  type ApiClient,
  converge,
  createPost,
  feedDefects,
  pool,
  signUpOrIn,
  uniqueName,
  wholeFeed,
} from './workload.ts';

/** An author with followers who are active (each read their feed once), ready for a burst of posts. */
export async function authorWithFollowers(client: ApiClient, tag: string, followerCount: number) {
  const author = await signUpOrIn(client, uniqueName(`${tag}_a`));
  const followers = await pool(
    Array.from({ length: followerCount }, (_, i) => uniqueName(`${tag}_f${i}`)),
    5,
    (name) => signUpOrIn(client, name),
  );
  // Right after sign-up: the social graph must know the new accounts at once (no replica lag visible).
  await pool(followers, 5, (follower) =>
    client.gql('mutation($id: ID!) { follow(userId: $id) }', { id: author.id }, follower.token),
  );
  await pool(followers, 5, (follower) => wholeFeed(client, follower));
  return { author, followers };
}

/** Every follower's feed holds exactly `posts` (no more, none twice); resolves with the time it took. */
export function feedsConverge(client: ApiClient, followers: Account[], posts: string[], timeoutMs: number) {
  let worst = { missing: 0, duplicated: 0, unexpected: 0 };
  return converge(async () => {
    const defects = await pool(followers, 5, async (f) => feedDefects(await wholeFeed(client, f), posts));
    worst = defects.reduce(
      (a, d) => ({
        missing: Math.max(a.missing, d.missing),
        duplicated: Math.max(a.duplicated, d.duplicated),
        unexpected: Math.max(a.unexpected, d.unexpected),
      }),
      { missing: 0, duplicated: 0, unexpected: 0 },
    );
    if (worst.duplicated || worst.unexpected) {
      throw new Error(`feed defects that waiting cannot cure: ${JSON.stringify(worst)}`);
    }
    return worst.missing === 0;
  }, timeoutMs);
}

/** Posts `count` texts as `author`, `concurrency` at a time, calling `during(i)` before post i. */
export async function burst(
  client: ApiClient,
  author: Account,
  count: number,
  concurrency: number,
  during: (index: number) => Promise<void> | void = () => undefined,
) {
  return pool(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      await during(i);
      return createPost(client, author, `burst post ${i}`);
    },
  );
}

/** How many dead letters the deployment's streams hold (subjects `<prefix>.dlq.>`). */
export async function deadLetterCount(natsUrl: string, prefix: string): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    let total = 0;
    for await (const stream of jsm.streams.list()) {
      if (!stream.config.name.startsWith(prefix.replace(/[^A-Za-z0-9_-]/g, '_'))) continue;
      const info = await jsm.streams.info(stream.config.name, { subjects_filter: `${prefix}.dlq.>` });
      for (const n of Object.values(info.state.subjects ?? {})) total += n;
    }
    return total;
  } finally {
    await nc.close();
  }
}

/** One line per fault for the closing note: printed, and kept by vitest's output. */
export function report(fault: string, figures: Record<string, unknown>) {
  console.log(`[fault] ${fault}: ${JSON.stringify(figures)}`);
}
