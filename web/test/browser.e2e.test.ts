import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRealSystem, type RealSystem } from '../../packages/embedded/test/real-system.ts';

/** Screenshots of the run, kept as CI artifacts (gitignored). */
const ARTIFACTS = fileURLToPath(new URL('../test-results/', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/index.html', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Generous: each step waits for a condition, and ends as soon as it holds. */
const STEP_MS = 30_000;

let real: RealSystem;
let browser: Browser;
let appUrl: string;
/** The browsers' errors and warnings, printed when a step fails. */
const browserLog: string[] = [];
const run = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  if (!existsSync(DIST)) throw new Error('web/dist is not built: run `npm run generate`');
  if (!existsSync(CHROMIUM))
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  real = await startRealSystem('web-e2e');
  expect(real.system.webAppUrl).not.toBeNull();
  appUrl = real.system.webAppUrl!;
  await mkdir(ARTIFACTS, { recursive: true });
  // launch() gives the browser a fresh temporary profile (user-data dir) of its own, removed on close.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await real?.stop();
});

async function openApp(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (error) => browserLog.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning')
      browserLog.push(`${message.type()}: ${message.text()}`);
  });
  await page.goto(appUrl);
  return page;
}

async function signUp(page: Page, username: string) {
  await page.getByRole('button', { name: 'New here? Create an account' }).click();
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Email').fill(`${username}@example.com`);
  await page.getByLabel('Display name').fill(username.replace(/_.*/, '').toUpperCase());
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  // Subscriptions need the socket: graphql-ws connects lazily, with the first subscription (notifications).
  await page.locator('html[data-socket="connected"]').waitFor({ state: 'attached' });
}

/** A 1200×900 photo-like JPEG: a gradient with a few shapes, so the variants and the blurhash have something to show. */
function photo(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="900">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#3a7bd5"/><stop offset="1" stop-color="#f9d976"/></linearGradient></defs>
    <rect width="1200" height="900" fill="url(#sky)"/>
    <circle cx="900" cy="250" r="110" fill="#fff4c2"/>
    <path d="M0 700 L300 420 L520 640 L760 380 L1200 760 L1200 900 L0 900 Z" fill="#2d5a27"/>
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
}

describe('the web client in Chromium', () => {
  it(
    "should show a photo posted by one user live in a follower's feed, and the like and its notification live to the author",
    { timeout: 180_000 },
    async () => {
      const author = `ana_${run}`;
      const follower = `ben_${run}`;
      const authorContext = await browser.newContext({ viewport: { width: 900, height: 1000 } });
      const followerContext = await browser.newContext({ viewport: { width: 900, height: 1000 } });
      try {
        const a = await openApp(authorContext);
        const b = await openApp(followerContext);
        await signUp(a, author);
        await signUp(b, follower);

        // The follower finds the author with the typeahead and follows them.
        await b.getByLabel('Search people').fill(author.slice(0, 6));
        await b
          .getByRole('option')
          .filter({ hasText: `@${author}` })
          .click();
        await b.getByRole('button', { name: 'Follow', exact: true }).click();
        await b.getByRole('button', { name: 'Following (unfollow)' }).waitFor();
        await b.locator('a', { hasText: 'Feed' }).click();
        await b.getByText('Your feed is empty').waitFor();

        // The author uploads a photo through the pre-signed POST, waits for processing, and shares it.
        await a.locator('a', { hasText: 'New post' }).click();
        await a
          .getByLabel('Photo or video')
          .setInputFiles({ name: 'sunset.jpg', mimeType: 'image/jpeg', buffer: await photo() });
        const caption = `Sunset over the hills #demo ${run}`;
        await a.getByLabel('Caption').fill(caption);
        await a.getByRole('button', { name: 'Share' }).click();
        const ownPost = a.getByTestId('post').filter({ hasText: caption });
        await ownPost.waitFor();
        await ownPost.getByTestId('post-image').and(a.locator('.loaded')).waitFor();

        // The follower is told live, shows the new post with its image, and likes it.
        await b.getByTestId('new-posts').filter({ hasText: '1 new post' }).click();
        const post = b.getByTestId('post').filter({ hasText: caption });
        await post.getByTestId('post-image').and(b.locator('.loaded')).waitFor();
        const srcset = await post.getByTestId('post-image').getAttribute('srcset');
        expect(srcset).toMatch(/ 150w, .* 640w, .* 1080w/);
        await b.screenshot({ path: join(ARTIFACTS, 'follower-feed.png'), animations: 'disabled' });
        await post.getByTestId('like').click();
        await post.getByTestId('like-count').filter({ hasText: '1 like' }).waitFor();

        // The author sees the like count and who liked it, and the notification, without reloading.
        await ownPost.getByTestId('like-count').filter({ hasText: '1 like' }).waitFor();
        await ownPost.getByText(`liked by @${follower} just now`).waitFor();
        await a
          .getByTestId('toast')
          .filter({ hasText: `@${follower} liked your post` })
          .waitFor();
        // Unread: the follow and the like.
        await a.getByTestId('unread-count').filter({ hasText: /^2$/ }).waitFor();
        await a.screenshot({ path: join(ARTIFACTS, 'author-live-like.png'), animations: 'disabled' });

        await a.getByTestId('notifications-link').click();
        await a
          .getByTestId('notification')
          .filter({ hasText: `@${follower} liked your post` })
          .waitFor();
        await a.screenshot({ path: join(ARTIFACTS, 'author-notifications.png'), animations: 'disabled' });
      } catch (error) {
        console.error(`browser log:\n${browserLog.join('\n')}`);
        // What each browser showed when a step failed.
        for (const [name, context] of [
          ['author', authorContext],
          ['follower', followerContext],
        ] as const) {
          const page = context.pages()[0];
          if (page) await page.screenshot({ path: join(ARTIFACTS, `failure-${name}.png`) }).catch(() => undefined);
        }
        throw error;
      } finally {
        await authorContext.close();
        await followerContext.close();
      }
    },
  );

  it(
    'should refresh a refused access token once and stay signed in, the live socket included',
    { timeout: 120_000 },
    async () => {
      const context = await browser.newContext();
      try {
        const page = await openApp(context);
        const username = `cam_${run}`;
        await signUp(page, username);
        // An access token the gateway refuses (as an expired or revoked one), still dated valid for the client: the
        // first query gets HTTP 401; the socket, if it connects before the refresh is back, is closed with 4403.
        await page.evaluate(() => {
          const session = JSON.parse(localStorage.getItem('insta.session')!);
          localStorage.setItem('insta.session', JSON.stringify({ ...session, accessToken: `${session.accessToken}x` }));
        });
        const refreshes: number[] = [];
        page.on('request', (request) => {
          if (request.postData()?.includes('RefreshSession')) refreshes.push(Date.now());
        });
        const refused: string[] = [];
        page.on('response', (response) => {
          if (response.status() === 401) refused.push(response.url());
        });
        await page.reload();
        await page.getByText('Your feed is empty').waitFor();
        await page.locator('html[data-socket="connected"]').waitFor({ state: 'attached' });
        expect(refused.length).toBeGreaterThanOrEqual(1);
        // One refresh for every failure at once: a refresh token works once, a second use would end the session.
        expect(refreshes).toHaveLength(1);
        const session = await page.evaluate(() => JSON.parse(localStorage.getItem('insta.session')!));
        expect(session.accessToken.endsWith('x')).toBe(false);
        expect(session.user.username).toBe(username);
        await page.getByTestId('notifications-link').waitFor();
        expect(await page.getByRole('button', { name: 'Sign in' }).count()).toBe(0);
      } finally {
        await context.close();
      }
    },
  );
});
