import { badUserInput } from '@insta/infra';

/** What posts and comments say: length limits, hashtags and @mentions, parsed the same way everywhere. */

export const MAX_TEXT_LENGTH = 2200;
export const MAX_HASHTAGS = 30;
export const MAX_MENTIONS = 20;
const MAX_TAG_LENGTH = 100;

const HASHTAG = /(?<![\p{L}\p{M}\p{N}_#&])#([\p{L}\p{M}\p{N}_]+)/gu;
const MENTION = /(?<![\p{L}\p{M}\p{N}_@.])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])/gu;

/** Characters as Postgres counts them (code points), not UTF-16 units. */
export const textLength = (text: string) => [...text].length;

/** BAD_USER_INPUT on `field` when the text is over the limit. */
export function checkTextLength(text: string, field: string): void {
  if (textLength(text) > MAX_TEXT_LENGTH)
    throw badUserInput(`Text must be at most ${MAX_TEXT_LENGTH} characters`, field);
}

/** Lower-case NFKC, without `#`; null when it cannot be a tag (empty, digits only, too long, other characters). */
export function normalizeHashtag(raw: string): string | null {
  const tag = raw.replace(/^#/, '').normalize('NFKC').toLowerCase();
  if (!/^[\p{L}\p{M}\p{N}_]+$/u.test(tag) || /^\d+$/.test(tag) || tag.length > MAX_TAG_LENGTH) return null;
  return tag;
}

/** Distinct normalized hashtags in order of first use ("issue #12" is not a tag). */
export function hashtagsOf(text: string | null): string[] {
  if (!text) return [];
  const tags = new Set<string>();
  for (const match of text.matchAll(HASHTAG)) {
    const tag = normalizeHashtag(match[1]!);
    if (tag) tags.add(tag);
  }
  return [...tags];
}

/** Distinct lower-case usernames @mentioned, in order of first mention (e-mail addresses are not mentions). */
export function mentionedUsernames(text: string | null): string[] {
  if (!text) return [];
  return [...new Set([...text.matchAll(MENTION)].map((m) => m[1]!.toLowerCase()))];
}
