import { DEFAULT_DUPLICATE_WINDOW_MS, DOMAIN_STREAM_LIMITS, type StreamDefinition } from './common.ts';

/** Owned by the social-graph subgraph, which creates it on start. */
export const SOCIAL_STREAM: StreamDefinition = {
  name: 'SOCIAL',
  subjects: ['social.>'],
  duplicateWindowMs: DEFAULT_DUPLICATE_WINDOW_MS,
  limits: DOMAIN_STREAM_LIMITS,
};

/**
 * One event per change, published after the commit that made it (outbox). A follow edge starts with
 * `follow.created` (public account) or `follow.approved` (private account: a request approved by its target, or
 * all pending requests when the account turned public) and ends with `follow.deleted`. A pending request starts
 * with `follow.requested` and ends with `follow.approved`, `follow.rejected` or `follow.cancelled`.
 * Consumers that mirror edges listen to `social.follow.*`.
 */
export const SocialSubjects = {
  followCreated: 'social.follow.created',
  followDeleted: 'social.follow.deleted',
  followRequested: 'social.follow.requested',
  followApproved: 'social.follow.approved',
  followRejected: 'social.follow.rejected',
  followCancelled: 'social.follow.cancelled',
  blockCreated: 'social.block.created',
  blockDeleted: 'social.block.deleted',
  muteCreated: 'social.mute.created',
  muteDeleted: 'social.mute.deleted',
  /**
   * The replica of an account (`social.accounts`) took a privacy change from the users stream: from now on the
   * relations social-graph answers (and so what posts and media show) follow it. The gateway's entity cache
   * invalidates on this rather than on `users.user.updated` alone, which arrives before the replica is updated.
   */
  accountPrivacyChanged: 'social.account.privacy-changed',
} as const;
export type SocialSubject = (typeof SocialSubjects)[keyof typeof SocialSubjects];

/** `follow.created`, `follow.requested`, `follow.rejected`: the follower (or requester) and the followee (or target). */
export interface FollowEvent {
  followerId: string;
  followeeId: string;
}

/** `follow.approved`: the request became an edge. */
export interface FollowApprovedEvent extends FollowEvent {
  /** APPROVED: the target approved it; ACCOUNT_PUBLIC: the target made the account public. */
  reason: 'APPROVED' | 'ACCOUNT_PUBLIC';
}

/** `follow.deleted`: the edge is gone. */
export interface FollowDeletedEvent extends FollowEvent {
  /** UNFOLLOW: the follower unfollowed; BLOCK: one of the two blocked the other. */
  reason: 'UNFOLLOW' | 'BLOCK';
}

/** `follow.cancelled`: a pending request is gone without an answer. */
export interface FollowCancelledEvent extends FollowEvent {
  /** WITHDRAWN: the requester unfollowed; BLOCK: one of the two blocked the other. */
  reason: 'WITHDRAWN' | 'BLOCK';
}

/** `block.created`, `block.deleted`. A block also removes the follows and requests between the two (events above). */
export interface BlockEvent {
  blockerId: string;
  blockedId: string;
}

/** `mute.created`, `mute.deleted`: the muter no longer sees (or sees again) the muted user's posts and notifications. */
export interface MuteEvent {
  muterId: string;
  mutedId: string;
}

/** `account.privacy-changed`. */
export interface AccountPrivacyChangedEvent {
  userId: string;
  isPrivate: boolean;
}

/** The payload type of each subject (without the envelope the outbox adds). */
export interface SocialEventPayloads {
  'social.follow.created': FollowEvent;
  'social.follow.deleted': FollowDeletedEvent;
  'social.follow.requested': FollowEvent;
  'social.follow.approved': FollowApprovedEvent;
  'social.follow.rejected': FollowEvent;
  'social.follow.cancelled': FollowCancelledEvent;
  'social.block.created': BlockEvent;
  'social.block.deleted': BlockEvent;
  'social.mute.created': MuteEvent;
  'social.mute.deleted': MuteEvent;
  'social.account.privacy-changed': AccountPrivacyChangedEvent;
}
