import { ApiError, createApi, postUpload, type Api } from './api.ts';
import { avatar, clip, random, scene } from './images.ts';

/** Every demo account's password. */
export const DEMO_PASSWORD = 'demo-password';

export interface SeedOptions {
  /** The gateway's /graphql URL. */
  url: string;
  /** Ordinary users besides ana, ben, celebrity and pia (default 200). */
  users?: number;
  /** ffmpeg to make the demo videos with; none when video processing is unavailable. */
  ffmpegPath?: string | null;
  /** One line per step, and a progress line within it. */
  progress?: (step: string, done: number, total: number) => void;
}

export interface SeedSummary {
  users: number;
  privateAccounts: number;
  follows: number;
  pendingRequests: number;
  posts: number;
  videos: number;
  likes: number;
  comments: number;
  credentials: { login: string; password: string; note: string }[];
}

interface Account {
  username: string;
  displayName: string;
  bio: string;
  isPrivate: boolean;
  id: string;
  token: string;
  hasAvatar: boolean;
}

interface PostPlan {
  author: Account;
  key: string;
  text: string;
  media: 'image' | 'video' | null;
}

const FIRST = [
  'maya',
  'leo',
  'zoe',
  'omar',
  'ines',
  'kai',
  'nora',
  'ravi',
  'lena',
  'tom',
  'aiko',
  'sam',
  'ella',
  'yusuf',
  'mila',
  'jon',
  'sara',
  'ivan',
  'lucia',
  'theo',
];
const LAST = [
  'chen',
  'silva',
  'novak',
  'haddad',
  'berg',
  'okafor',
  'rossi',
  'kim',
  'dubois',
  'patel',
  'sato',
  'meyer',
  'lopez',
  'ahmed',
  'nowak',
];
const PLACES = [
  'the lake',
  'the old town',
  'the coast',
  'the hills',
  'the market',
  'the park',
  'the harbour',
  'the mountains',
];
const TAGS = ['sunset', 'travel', 'nature', 'weekend', 'photography', 'hiking', 'city', 'coffee'];
const REMARKS = [
  'Wow!',
  'Love this',
  'Where is this?',
  'Beautiful colours',
  'So good',
  'Take me there',
  'Great shot',
  'Amazing light',
];
const REPLIES = ['Thank you!', 'Near the station', 'Right?', 'Next time together!'];

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const ACCOUNT = 'accessToken user { id avatar { id } }';

async function account(api: Api, spec: Omit<Account, 'id' | 'token' | 'hasAvatar'>): Promise<Account> {
  type Payload = { accessToken: string; user: { id: string; avatar: { id: string } | null } };
  let payload: Payload;
  try {
    const input = {
      username: spec.username,
      email: `${spec.username}@demo.insta.example`,
      password: DEMO_PASSWORD,
      displayName: spec.displayName,
    };
    payload = (
      await api<{ signUp: Payload }>(`mutation($input: SignUpInput!) { signUp(input: $input) { ${ACCOUNT} } }`, {
        input,
      })
    ).signUp;
  } catch (error) {
    // Seeded before: the same account, signed in.
    if (!(error instanceof ApiError) || error.code !== 'CONFLICT') throw error;
    const input = { login: spec.username, password: DEMO_PASSWORD };
    payload = (
      await api<{ signIn: Payload }>(`mutation($input: SignInInput!) { signIn(input: $input) { ${ACCOUNT} } }`, {
        input,
      })
    ).signIn;
  }
  return { ...spec, id: payload.user.id, token: payload.accessToken, hasAvatar: payload.user.avatar !== null };
}

/** Request, POST, complete, and wait until READY (or FAILED, which stops the seed). */
async function upload(api: Api, token: string, body: Buffer, contentType: string, altText: string): Promise<string> {
  const { requestUpload: ticket } = await api<{
    requestUpload: { media: { id: string }; url: string; fields: { name: string; value: string }[] };
  }>(
    'mutation($input: RequestUploadInput!) { requestUpload(input: $input) { media { id } url fields { name value } } }',
    { input: { contentType, size: body.length, altText } },
    token,
  );
  await postUpload(ticket, body, contentType);
  await api('mutation($id: ID!) { completeUpload(mediaId: $id) { id } }', { id: ticket.media.id }, token);
  for (;;) {
    const { media } = await api<{ media: { status: string; failureReason: string | null } }>(
      'query($id: ID!) { media(id: $id) { status failureReason } }',
      { id: ticket.media.id },
      token,
    );
    if (media.status === 'READY') return ticket.media.id;
    if (media.status === 'FAILED') throw new Error(`demo media failed: ${media.failureReason}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/**
 * A believable network through the public API: accounts with avatars (a celebrity, private accounts), follows and
 * follow requests, posts with generated images and (with ffmpeg) two short videos, likes, threaded comments and
 * mentions, and so notifications. Idempotent: accounts sign in when they exist, follows and likes are idempotent,
 * posts carry an idempotency key and are made only when missing, comments only on posts that have none.
 */
export async function seedDemo(options: SeedOptions): Promise<SeedSummary> {
  const api = createApi(options.url);
  // Every choice comes from a generator seeded by what it is for, so a rerun makes the same choices whatever an
  // earlier run already did (and skipped).
  const seeded = (key: string) =>
    random([...key].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261));
  const chooser =
    (rand: () => number) =>
    <T>(items: readonly T[]) =>
      items[Math.floor(rand() * items.length)]!;
  const rand = seeded('network');
  const pick = chooser(rand);
  const progress = options.progress ?? (() => {});

  // Accounts.
  const specs: Omit<Account, 'id' | 'token' | 'hasAvatar'>[] = [
    { username: 'ana', displayName: 'Ana Lima', bio: 'Photos of places I love. Demo account.', isPrivate: false },
    { username: 'ben', displayName: 'Ben Okafor', bio: 'Coffee, cities, weekends. Demo account.', isPrivate: false },
    { username: 'celebrity', displayName: 'Cleo Star', bio: 'Everyone follows me.', isPrivate: false },
    { username: 'pia', displayName: 'Pia Private', bio: 'Private account: ask to follow.', isPrivate: true },
  ];
  for (let i = 0; i < (options.users ?? 200); i++) {
    const first = FIRST[i % FIRST.length]!;
    const last = LAST[Math.floor(i / FIRST.length) % LAST.length]!;
    specs.push({
      username: `${first}_${last}_${i}`,
      displayName: `${capital(first)} ${capital(last)}`,
      bio: `Into ${pick(TAGS)} and ${pick(TAGS)}.`,
      isPrivate: i % 12 === 5,
    });
  }
  let done = 0;
  const accounts = await mapLimit(specs, 4, async (spec) => {
    const result = await account(api, spec);
    progress('accounts', ++done, specs.length);
    return result;
  });
  const [ana, ben, celebrity, pia] = accounts as [Account, Account, Account, Account];
  const others = accounts.slice(4);

  // Avatars and profiles (bio, private flag).
  done = 0;
  await mapLimit(accounts, 4, async (a) => {
    const input: Record<string, unknown> = { bio: a.bio, isPrivate: a.isPrivate };
    if (!a.hasAvatar)
      input.avatarMediaId = await upload(
        api,
        a.token,
        await avatar(a.displayName, random(a.username.length * 7919)),
        'image/jpeg',
        `${a.displayName}'s avatar`,
      );
    await api('mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { id } }', { input }, a.token);
    progress('avatars', ++done, accounts.length);
  });

  // Follows: everyone follows the celebrity; ana and ben follow each other and many; pia has followers and requests.
  const follows: [Account, Account][] = [
    [ana, ben],
    [ben, ana],
    [ana, pia],
    [ben, pia],
  ];
  for (const a of accounts) if (a !== celebrity) follows.push([a, celebrity]);
  for (const [i, a] of others.entries()) {
    if (i % 3 === 0) follows.push([ana, a], [a, ana]);
    if (i % 4 === 1) follows.push([ben, a], [a, ben]);
    if (i % 10 === 2) follows.push([a, pia]);
    for (let k = 0; k < 4; k++) {
      const b = pick(others);
      if (b !== a) follows.push([a, b]);
    }
  }
  done = 0;
  await mapLimit(follows, 6, async ([from, to]) => {
    await api('mutation($id: ID!) { follow(userId: $id) }', { id: to.id }, from.token).catch((error: unknown) => {
      // A block in the random network would refuse it; there are none, but a rerun must not stop on one.
      if (!(error instanceof ApiError) || error.code !== 'FORBIDDEN') throw error;
    });
    progress('follows', ++done, follows.length);
  });
  // Private accounts approve every other pending request; pia approves ana and leaves ben waiting.
  let pendingRequests = 0;
  for (const owner of accounts.filter((a) => a.isPrivate)) {
    const { followRequests } = await api<{ followRequests: { edges: { node: { id: string } }[] } }>(
      'query { followRequests(first: 100) { edges { node { id } } } }',
      {},
      owner.token,
    );
    for (const [i, { node }] of followRequests.edges.entries()) {
      const approve = node.id === ana.id || (node.id !== ben.id && i % 2 === 0);
      if (approve) await api('mutation($id: ID!) { approveFollowRequest(userId: $id) }', { id: node.id }, owner.token);
      else pendingRequests++;
    }
  }

  // Posts.
  const videos = options.ffmpegPath ? 2 : 0;
  const plans: PostPlan[] = [];
  const plan = (author: Account, count: number, media: (i: number) => PostPlan['media']) => {
    for (let i = 0; i < count; i++) {
      const tags = `#${pick(TAGS)} #${pick(TAGS)}`;
      const mention = i % 3 === 1 ? ` with @${author === ana ? 'ben' : 'ana'}` : '';
      plans.push({
        author,
        key: `demo:${author.username}:${i}`,
        text: `${capital(pick(['an evening at', 'morning in', 'lost in', 'back to']))} ${pick(PLACES)}${mention} ${tags}`,
        media: media(i),
      });
    }
  };
  plan(celebrity, 10, (i) => (i < videos ? 'video' : 'image'));
  plan(ana, 6, () => 'image');
  plan(ben, 4, (i) => (i % 2 === 0 ? 'image' : null));
  plan(pia, 3, () => 'image');
  for (const [i, a] of others.entries())
    if (i % 3 === 0) plan(a, 1 + (i % 2), (k) => (k === 0 && i % 2 === 0 ? 'image' : null));
  plans.reverse(); // the celebrity's first posts end up the newest

  // Already made by an earlier run: the posts are looked up by their text.
  const existing = new Map<string, string>();
  await mapLimit([...new Set(plans.map((p) => p.author))], 4, async (author) => {
    const { user } = await api<{ user: { posts: { edges: { node: { id: string; text: string | null } | null }[] } } }>(
      'query($u: String!) { user(username: $u) { posts(first: 50) { edges { node { id text } } } } }',
      { u: author.username },
      author.token,
    );
    for (const edge of user.posts.edges)
      if (edge.node?.text) existing.set(`${author.username}\n${edge.node.text}`, edge.node.id);
  });
  let madeVideos = 0;
  done = 0;
  const posts: { id: string; plan: PostPlan }[] = [];
  // One at a time: their order is the feed's.
  for (const p of plans) {
    let id = existing.get(`${p.author.username}\n${p.text}`);
    if (!id) {
      const mediaIds: string[] = [];
      if (p.media === 'image')
        mediaIds.push(
          await upload(
            api,
            p.author.token,
            await scene(seeded(p.key)),
            'image/jpeg',
            `A picture of ${p.text.split('#')[0]!.trim()}`,
          ),
        );
      if (p.media === 'video' && options.ffmpegPath) {
        const body = await clip(options.ffmpegPath, 4, madeVideos === 0 ? 'testsrc2' : 'mandelbrot');
        madeVideos++;
        mediaIds.push(await upload(api, p.author.token, body, 'video/mp4', 'A short demo clip'));
      }
      const input = { text: p.text, mediaIds, idempotencyKey: p.key };
      id = (
        await api<{ createPost: { id: string } }>(
          'mutation($input: CreatePostInput!) { createPost(input: $input) { id } }',
          { input },
          p.author.token,
        )
      ).createPost.id;
    }
    posts.push({ id, plan: p });
    progress('posts', ++done, plans.length);
  }

  // Likes: many on the celebrity's posts, a few elsewhere; ben likes all of ana's, so ana has a grouped notification.
  const likes: [string, Account][] = [];
  for (const { id, plan: p } of posts) {
    const r = seeded(`likes:${p.key}`);
    const count = p.author === celebrity ? 30 + Math.floor(r() * 40) : Math.floor(r() * 8);
    const likers = new Set<Account>();
    for (let k = 0; k < count; k++) likers.add(chooser(r)(others));
    if (p.author === ana) likers.add(ben);
    for (const liker of likers)
      if (liker !== p.author && !(p.author.isPrivate && liker !== ana)) likes.push([id, liker]);
  }
  done = 0;
  await mapLimit(likes, 6, async ([postId, liker]) => {
    await api('mutation($id: ID!) { likePost(postId: $id) { id } }', { id: postId }, liker.token);
    progress('likes', ++done, likes.length);
  });

  // Comments and replies, only on posts without any (so a rerun adds none).
  let comments = 0;
  done = 0;
  await mapLimit(posts, 4, async ({ id, plan: p }) => {
    const { post } = await api<{ post: { commentCount: number } | null }>(
      'query($id: ID!) { post(id: $id) { commentCount } }',
      { id },
      p.author.token,
    );
    progress('comments', ++done, posts.length);
    if (!post || post.commentCount > 0 || p.author.isPrivate) return;
    const r = seeded(`comments:${p.key}`);
    const choose = chooser(r);
    const commenters =
      p.author === ana ? [ben, choose(others)] : Array.from({ length: Math.floor(r() * 3) }, () => choose(others));
    for (const commenter of commenters) {
      const add = (token: string, text: string, parentId?: string) =>
        api<{ addComment: { id: string } }>(
          'mutation($input: AddCommentInput!) { addComment(input: $input) { id } }',
          { input: { postId: id, text, parentId } },
          token,
        );
      const { addComment } = await add(commenter.token, choose(REMARKS));
      comments++;
      if (r() < 0.6) {
        await add(p.author.token, choose(REPLIES), addComment.id);
        comments++;
      }
    }
  });

  return {
    users: accounts.length,
    privateAccounts: accounts.filter((a) => a.isPrivate).length,
    follows: follows.length,
    pendingRequests,
    posts: posts.length,
    videos: plans.filter((p) => p.media === 'video').length,
    likes: likes.length,
    comments,
    credentials: [
      {
        login: 'ana',
        password: DEMO_PASSWORD,
        note: 'follows ben, pia (private) and many more; ben liked and commented on her posts',
      },
      {
        login: 'ben',
        password: DEMO_PASSWORD,
        note: 'follows ana and many more; his request to follow pia (private) is pending',
      },
    ],
  };
}
