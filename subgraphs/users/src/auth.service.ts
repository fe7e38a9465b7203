import { createHash, randomBytes } from 'node:crypto';
import {
  conflict,
  issueAccessToken,
  rateLimited,
  revokedSessionKey,
  unauthenticated,
  type Identity,
  type KeyValueStore,
} from '@insta/infra';
import type { UsersConfig } from './config.ts';
import { dummyHash, hashPassword, verifyPassword } from './password.ts';
import type { SessionsRepository } from './sessions.repository.ts';
import { UniqueViolation, type UserRecord, type UsersRepository } from './users.repository.ts';
import { parseInput, signInSchema, signUpSchema } from './validation.ts';

export interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Date;
  user: UserRecord;
}

const INVALID_LOGIN = 'Invalid login or password';
const INVALID_REFRESH = 'Invalid or expired refresh token';

/** An address an account signed in from (with the right password) within REFRESH_TOKEN_TTL_DAYS. */
const knownAddressKey = (userId: string, clientIp: string) => `sign-in:known:${userId}:${clientIp}`;
const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
const newRefreshToken = () => randomBytes(32).toString('base64url');

type AuthSettings = Pick<
  UsersConfig,
  | 'JWT_SECRET'
  | 'ACCESS_TOKEN_TTL_SECONDS'
  | 'REFRESH_TOKEN_TTL_DAYS'
  | 'SIGN_IN_MAX_ATTEMPTS'
  | 'SIGN_IN_WINDOW_SECONDS'
  | 'SIGN_IN_ACCOUNT_MAX_ATTEMPTS'
  | 'SIGN_IN_ACCOUNT_WINDOW_SECONDS'
>;

export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly kv: KeyValueStore,
    private readonly settings: AuthSettings,
  ) {}

  async signUp(input: unknown): Promise<AuthPayload> {
    const data = parseInput(signUpSchema, input, 'input');
    const passwordHash = await hashPassword(data.password);
    let user: UserRecord;
    try {
      user = await this.users.create({
        username: data.username,
        email: data.email,
        passwordHash,
        displayName: data.displayName || null,
      });
    } catch (error) {
      if (!(error instanceof UniqueViolation)) throw error;
      const taken = await this.users.existing(data.username, data.email);
      if (taken.username || error.fields.includes('username')) throw conflict('Username is taken', 'input.username');
      throw conflict('Email is already registered', 'input.email');
    }
    return this.startSession(user);
  }

  /**
   * Limited per account, never per login string: the username and the e-mail address of an account share its
   * buckets. One bucket per (account, client address) and a larger, slower one per account (ADR 12), so that
   * guessing from one address locks out that address only. Addresses the account signed in from before skip the
   * account-wide bucket: guessing from many addresses cannot lock the owner out of the ones they use. Unknown
   * logins get buckets of their own, keyed by a hash: no login a client typed ends up in a Redis key.
   */
  async signIn(input: { login: string; password: string }, clientIp: string): Promise<AuthPayload> {
    const { login, password } = parseInput(signInSchema, input, 'input');
    const credentials = await this.users.findCredentials(login);
    const account = credentials ? `account:${credentials.id}` : `login:${hashToken(login)}`;
    const { SIGN_IN_MAX_ATTEMPTS, SIGN_IN_WINDOW_SECONDS } = this.settings;
    const { SIGN_IN_ACCOUNT_MAX_ATTEMPTS, SIGN_IN_ACCOUNT_WINDOW_SECONDS } = this.settings;
    await this.takeSignInToken(`${account}:ip:${clientIp}`, SIGN_IN_MAX_ATTEMPTS, SIGN_IN_WINDOW_SECONDS);
    const knownAddress = credentials ? knownAddressKey(credentials.id, clientIp) : null;
    if (!knownAddress || !(await this.kv.exists(knownAddress))) {
      await this.takeSignInToken(account, SIGN_IN_ACCOUNT_MAX_ATTEMPTS, SIGN_IN_ACCOUNT_WINDOW_SECONDS);
    }
    // Unknown logins verify against a dummy hash so that both failures take the same time.
    const valid = await verifyPassword(credentials?.passwordHash ?? (await dummyHash), password);
    if (!credentials || !valid) throw unauthenticated(INVALID_LOGIN);
    const [user] = await this.users.findByIds([credentials.id]);
    if (!user) throw unauthenticated(INVALID_LOGIN);
    if (knownAddress) await this.kv.set(knownAddress, '1', this.settings.REFRESH_TOKEN_TTL_DAYS * 86_400_000);
    await this.users.touchLastActive(user.id);
    return this.startSession(user);
  }

  private async takeSignInToken(bucket: string, capacity: number, windowSeconds: number) {
    const taken = await this.kv.takeTokens(`ratelimit:sign-in:${bucket}`, {
      capacity,
      refillPerSecond: capacity / windowSeconds,
    });
    if (taken.allowed) return;
    const retryAfter = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
    throw rateLimited(`Too many sign-in attempts; try again in ${retryAfter} s`, retryAfter);
  }

  async refresh(refreshToken: string): Promise<AuthPayload> {
    const now = new Date();
    const next = newRefreshToken();
    const result = await this.sessions.rotate(hashToken(refreshToken), hashToken(next), now, this.refreshExpiry(now));
    if (result.kind === 'reused') {
      // A rotated token came back: someone holds a copy. End the whole family, access tokens included.
      await this.revoke(result.sessionId, 'REUSE', now);
      throw unauthenticated(INVALID_REFRESH);
    }
    if (result.kind === 'invalid') throw unauthenticated(INVALID_REFRESH);
    const [user] = await this.users.findByIds([result.userId]);
    if (!user) throw unauthenticated(INVALID_REFRESH);
    await this.users.touchLastActive(user.id);
    return this.payload(user, result.sessionId, next);
  }

  async signOut(identity: Identity): Promise<boolean> {
    await this.revoke(identity.sessionId, 'SIGN_OUT', new Date());
    return true;
  }

  /**
   * Internal `sessionRevocations`: sessions revoked after `since` whose access tokens may still be unexpired (all
   * of them when `since` is null), for the gateway's revocation list, which must not depend on Redis alone.
   */
  async revocationsSince(since: Date | null) {
    const asOf = new Date();
    const ttlMs = this.settings.ACCESS_TOKEN_TTL_SECONDS * 1000;
    const oldest = new Date(asOf.getTime() - ttlMs);
    const from = since && since > oldest ? since : oldest;
    const sessions = await this.sessions.revokedSince(from);
    return {
      asOf,
      sessions: sessions.map((s) => ({ ...s, expiresAt: new Date(s.revokedAt.getTime() + ttlMs) })),
    };
  }

  private async revoke(sessionId: string, reason: 'SIGN_OUT' | 'REUSE', now: Date) {
    const tokensExpireAt = new Date(now.getTime() + this.settings.ACCESS_TOKEN_TTL_SECONDS * 1000);
    await this.sessions.revoke(sessionId, reason, now, tokensExpireAt);
    // The gateway checks this key on every request until the last access token of the session has expired.
    await this.kv.set(revokedSessionKey(sessionId), reason, this.settings.ACCESS_TOKEN_TTL_SECONDS * 1000);
  }

  private refreshExpiry(now: Date) {
    return new Date(now.getTime() + this.settings.REFRESH_TOKEN_TTL_DAYS * 86_400_000);
  }

  private async startSession(user: UserRecord): Promise<AuthPayload> {
    const refreshToken = newRefreshToken();
    const { sessionId } = await this.sessions.create(user.id, hashToken(refreshToken), this.refreshExpiry(new Date()));
    return this.payload(user, sessionId, refreshToken);
  }

  private async payload(user: UserRecord, sessionId: string, refreshToken: string): Promise<AuthPayload> {
    const ttl = this.settings.ACCESS_TOKEN_TTL_SECONDS;
    const accessToken = await issueAccessToken(this.settings.JWT_SECRET, { userId: user.id, sessionId }, ttl);
    return { accessToken, refreshToken, accessTokenExpiresAt: new Date(Date.now() + ttl * 1000), user };
  }
}
