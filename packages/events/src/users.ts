import {
  DEFAULT_DUPLICATE_WINDOW_MS,
  DOMAIN_STREAM_LIMITS,
  type EventEnvelope,
  type StreamDefinition,
} from './common.ts';

export const USERS_STREAM: StreamDefinition = {
  name: 'USERS',
  subjects: ['users.>'],
  duplicateWindowMs: DEFAULT_DUPLICATE_WINDOW_MS,
  limits: DOMAIN_STREAM_LIMITS,
};

export const UsersSubjects = {
  /** A new account. */
  userCreated: 'users.user.created',
  /** Profile fields changed; `isPrivate` is always present so consumers can mirror it. */
  userUpdated: 'users.user.updated',
  /** The user signed in or refreshed a session (feeds fan out only to recently active users). */
  userActive: 'users.user.active',
  /** A session was signed out or revoked (refresh-token reuse): gateways close its sockets at once (ADR 16). */
  sessionRevoked: 'users.session.revoked',
} as const;

export interface UserCreatedEvent {
  userId: string;
  username: string;
  isPrivate: boolean;
  createdAt: string;
}

export interface UserUpdatedEvent {
  userId: string;
  isPrivate: boolean;
  /** The fields this change touched. */
  changed: ('displayName' | 'bio' | 'avatarMediaId' | 'isPrivate')[];
}

export interface UserActiveEvent {
  userId: string;
  lastActiveAt: string;
}

export interface SessionRevokedEvent {
  sessionId: string;
  userId: string;
  reason: 'SIGN_OUT' | 'REUSE';
  /** ISO-8601: after this, every access token of the session has expired and the revocation no longer matters. */
  expiresAt: string;
}
