import { createHash, randomBytes } from 'node:crypto';
import {
  badUserInput,
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
import { parseInput, signUpSchema } from './validation.ts';

export interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Date;
  user: UserRecord;
}

const INVALID_LOGIN = 'Invalid login or password';
const INVALID_REFRESH = 'Invalid or expired refresh token';

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
const newRefreshToken = () => randomBytes(32).toString('base64url');

type AuthSettings = Pick<
  UsersConfig,
  | 'JWT_SECRET'
  | 'ACCESS_TOKEN_TTL_SECONDS'
  | 'REFRESH_TOKEN_TTL_DAYS'
  | 'SIGN_IN_MAX_ATTEMPTS'
  | 'SIGN_IN_WINDOW_SECONDS'
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

  async signIn(input: { login: string; password: string }): Promise<AuthPayload> {
    const login = input.login.trim().toLowerCase();
    if (!login) throw badUserInput('Login must not be empty', 'input.login');
    const window = this.settings.SIGN_IN_WINDOW_SECONDS * 1000;
    const attempts = await this.kv.incrWindow(`ratelimit:sign-in:${login}`, window);
    if (attempts.count > this.settings.SIGN_IN_MAX_ATTEMPTS) {
      const retryAfter = Math.ceil(attempts.resetInMs / 1000);
      throw rateLimited(`Too many sign-in attempts; try again in ${retryAfter} s`, retryAfter);
    }
    const credentials = await this.users.findCredentials(login);
    // Unknown logins verify against a dummy hash so that both failures take the same time.
    const valid = await verifyPassword(credentials?.passwordHash ?? (await dummyHash), input.password);
    if (!credentials || !valid) throw unauthenticated(INVALID_LOGIN);
    const [user] = await this.users.findByIds([credentials.id]);
    if (!user) throw unauthenticated(INVALID_LOGIN);
    await this.users.touchLastActive(user.id);
    return this.startSession(user);
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
    await this.sessions.revoke(sessionId, reason, now);
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
