import type DataLoader from 'dataloader';
import {
  badUserInput,
  forbidden,
  isUuid,
  namedLoader,
  notFound,
  pageSize,
  toConnection,
  type Connection,
  type Logger,
} from '@insta/infra';
import { SocialSubjects } from '@insta/events';
import { Lists, listCursor, parseListCursor } from './cursors.ts';
import type { FollowStatus, Relation } from './generated/graphql.ts';
import type {
  AccountRecord,
  ListRow,
  PairRecord,
  RelationRecord,
  SocialRepository,
  SocialTransaction,
  UserRef,
} from './social.repository.ts';
import type { AccountSource } from './users.client.ts';

export const MAX_RELATION_TARGETS = 500;
export const MAX_PAIRS = 5000;
export const DEFAULT_ID_PAGE = 1000;
export const MAX_ID_PAGE = 5000;

const noRelation = (targetId: string): RelationRecord => ({
  targetId,
  following: false,
  followedBy: false,
  requested: false,
  blocking: false,
  blockedBy: false,
  muted: false,
  // Fail closed: what social-graph does not know (not even from users) is private.
  targetIsPrivate: true,
  known: false,
});

export const followStatus = (r: RelationRecord): FollowStatus =>
  r.following ? 'FOLLOWING' : r.requested ? 'REQUESTED' : 'NONE';

const USER_NOT_FOUND = 'User not found';

/** Ids are lower-case UUIDs; anything else names nobody. */
const normalizeId = (id: string) => id.trim().toLowerCase();

/** Internal `audience`. */
export interface AudienceRecord {
  targetId: string;
  targetIsPrivate: boolean;
  following: string[];
  requested: string[];
  blocked: string[];
  muted: string[];
}

/** Thrown inside a transaction whose target account the replica does not have yet: ask the owner, then rerun. */
class ReplicaMiss extends Error {
  constructor(readonly userId: string) {
    super(`account ${userId} not replicated`);
  }
}

/** Ids per `accountStates` call (the users subgraph's limit). */
const MAX_OWNER_BATCH = 500;

export class SocialService {
  /**
   * Replica misses of concurrent requests, batched into one question to the owner per tick (a burst of sign-ups
   * followed at once costs one call, not one per follow). Not cached: a miss that the owner answers is written to
   * the replica, and one it does not know must be asked again next time.
   */
  private readonly owner: DataLoader<string, boolean>;

  constructor(
    private readonly repo: SocialRepository,
    accounts: AccountSource,
    private readonly logger?: Logger,
  ) {
    this.owner = namedLoader<string, boolean>(
      'social-graph.accountStates',
      async (ids) => {
        const states = await accounts.accountStates(ids);
        for (const state of states) await this.syncAccount(state.userId, state.isPrivate, state.updatedAt);
        const found = new Set(states.map((s) => s.userId));
        return ids.map((id) => found.has(id));
      },
      { cache: false, maxBatchSize: MAX_OWNER_BATCH },
    );
  }

  /**
   * Fills the replica from the owner for accounts it does not have yet (a user who signed up a moment ago: the
   * users event is still on its way). Resolves with the ids the owner knows; rejects when it cannot be asked.
   */
  private async fillFromOwner(ids: readonly string[]): Promise<Set<string>> {
    const known = await this.owner.loadMany(ids);
    const failure = known.find((k): k is Error => k instanceof Error);
    if (failure) throw failure;
    return new Set(ids.filter((_, i) => known[i] === true));
  }

  /** Runs `work` (a transaction); on a replica miss, fills the account from the owner and runs it once more. */
  private async withReplica<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof ReplicaMiss)) throw error;
      if (!(await this.fillFromOwner([error.userId])).has(error.userId)) throw notFound(USER_NOT_FOUND);
      return work();
    }
  }

  // ------------------------------------------------------------------ mutations

  /** FOLLOWING, or REQUESTED for a private account. Idempotent. */
  follow(viewerId: string, userId: string): Promise<FollowStatus> {
    const targetId = this.otherUser(viewerId, userId, 'follow');
    return this.inTransaction<FollowStatus>(async (tx) => {
      const target = await this.lockPairWithTarget(tx, viewerId, targetId);
      if (await tx.blockedEitherWay(viewerId, targetId)) throw forbidden('You cannot follow this user');
      if (await tx.isFollowing(viewerId, targetId)) return 'FOLLOWING';
      const edge = { followerId: viewerId, followeeId: targetId };
      if (target.isPrivate) {
        if (await tx.insertRequest(viewerId, targetId)) await tx.emit(SocialSubjects.followRequested, [edge]);
        return 'REQUESTED';
      }
      if (await tx.insertFollow(viewerId, targetId)) await tx.emit(SocialSubjects.followCreated, [edge]);
      return 'FOLLOWING';
    });
  }

  /** Removes the follow or withdraws the pending request. Always NONE. */
  unfollow(viewerId: string, userId: string): Promise<FollowStatus> {
    const targetId = this.otherUser(viewerId, userId, 'unfollow');
    return this.inTransaction<FollowStatus>(async (tx) => {
      await this.lockPairWithTarget(tx, viewerId, targetId);
      const unfollowed = await tx.deleteFollows(viewerId, targetId, false);
      await tx.emit(
        SocialSubjects.followDeleted,
        unfollowed.map((f) => ({ ...f, reason: 'UNFOLLOW' as const })),
      );
      const withdrawn = await tx.deleteRequests(viewerId, targetId, false);
      await tx.emit(
        SocialSubjects.followCancelled,
        withdrawn.map((f) => ({ ...f, reason: 'WITHDRAWN' as const })),
      );
      return 'NONE';
    });
  }

  /** The requester now follows the viewer; NOT_FOUND when there is no request (and no follow) to approve. */
  approveFollowRequest(viewerId: string, userId: string): Promise<boolean> {
    const requesterId = this.otherUser(viewerId, userId, 'approve a request from');
    return this.repo.transaction(async (tx) => {
      await tx.lockPair(viewerId, requesterId);
      const [request] = await tx.deleteRequests(requesterId, viewerId, false);
      if (request) {
        await tx.insertFollow(requesterId, viewerId);
        await tx.emit(SocialSubjects.followApproved, [{ ...request, reason: 'APPROVED' }]);
        return true;
      }
      if (await tx.isFollowing(requesterId, viewerId)) return true;
      throw notFound('No follow request from this user');
    });
  }

  /** No request from the user is pending afterwards. NOT_FOUND only for unknown users. */
  rejectFollowRequest(viewerId: string, userId: string): Promise<boolean> {
    const requesterId = this.otherUser(viewerId, userId, 'reject a request from');
    return this.inTransaction(async (tx) => {
      const accounts = await tx.lockPair(viewerId, requesterId);
      const rejected = await tx.deleteRequests(requesterId, viewerId, false);
      if (rejected.length === 0 && !accounts.has(requesterId)) throw new ReplicaMiss(requesterId);
      await tx.emit(SocialSubjects.followRejected, rejected);
      return true;
    });
  }

  /** Removes the follows and requests between the two, both ways, and keeps new ones out. Idempotent. */
  block(viewerId: string, userId: string): Promise<boolean> {
    const targetId = this.otherUser(viewerId, userId, 'block');
    return this.inTransaction(async (tx) => {
      await this.lockPairWithTarget(tx, viewerId, targetId);
      if (!(await tx.insertBlock(viewerId, targetId))) return true;
      const follows = await tx.deleteFollows(viewerId, targetId, true);
      await tx.emit(
        SocialSubjects.followDeleted,
        follows.map((f) => ({ ...f, reason: 'BLOCK' as const })),
      );
      const requests = await tx.deleteRequests(viewerId, targetId, true);
      await tx.emit(
        SocialSubjects.followCancelled,
        requests.map((f) => ({ ...f, reason: 'BLOCK' as const })),
      );
      await tx.emit(SocialSubjects.blockCreated, [{ blockerId: viewerId, blockedId: targetId }]);
      return true;
    });
  }

  unblock(viewerId: string, userId: string): Promise<boolean> {
    const targetId = this.otherUser(viewerId, userId, 'unblock');
    return this.inTransaction(async (tx) => {
      await this.lockPairWithTarget(tx, viewerId, targetId);
      if (await tx.deleteBlock(viewerId, targetId)) {
        await tx.emit(SocialSubjects.blockDeleted, [{ blockerId: viewerId, blockedId: targetId }]);
      }
      return true;
    });
  }

  /** Mutes change nothing between the two but the muter's view, so they need no pair lock. */
  async mute(viewerId: string, userId: string): Promise<boolean> {
    const targetId = this.otherUser(viewerId, userId, 'mute');
    await this.requireAccount(targetId);
    return this.repo.transaction(async (tx) => {
      if (await tx.insertMute(viewerId, targetId)) {
        await tx.emit(SocialSubjects.muteCreated, [{ muterId: viewerId, mutedId: targetId }]);
      }
      return true;
    });
  }

  async unmute(viewerId: string, userId: string): Promise<boolean> {
    const targetId = this.otherUser(viewerId, userId, 'unmute');
    await this.requireAccount(targetId);
    return this.repo.transaction(async (tx) => {
      if (await tx.deleteMute(viewerId, targetId)) {
        await tx.emit(SocialSubjects.muteDeleted, [{ muterId: viewerId, mutedId: targetId }]);
      }
      return true;
    });
  }

  // ------------------------------------------------------------------ the users replica

  /**
   * Applies a users event (created or updated) to the replica. Idempotent, and an event older than the one
   * applied last is ignored. When the account turns public, its pending requests are approved.
   */
  syncAccount(userId: string, isPrivate: boolean, occurredAt: Date): Promise<void> {
    return this.repo.transaction(async (tx) => {
      const { applied, wasPrivate } = await tx.syncAccount(userId, isPrivate, occurredAt);
      if (!applied) return;
      if (wasPrivate !== null && wasPrivate !== isPrivate)
        await tx.emit(SocialSubjects.accountPrivacyChanged, [{ userId, isPrivate }]);
      if (wasPrivate !== true || isPrivate) return;
      const approved = await tx.approveAllRequests(userId);
      await tx.emit(
        SocialSubjects.followApproved,
        approved.map((followerId) => ({ followerId, followeeId: userId, reason: 'ACCOUNT_PUBLIC' as const })),
      );
    });
  }

  // ------------------------------------------------------------------ reads

  /**
   * For the relation loader: one record per id, in order; ids that are not UUIDs relate to nothing. Accounts the
   * replica does not have are asked of the owner first; while it cannot be asked they count as private (a user
   * who just signed up and went private must not show as public in the meantime).
   */
  async relationsOf(viewerId: string | null, targetIds: readonly string[]): Promise<RelationRecord[]> {
    const valid = targetIds.filter(isUuid);
    let found = valid.length ? await this.repo.relations(viewerId, valid) : [];
    const missing = found.filter((r) => !r.known).map((r) => r.targetId);
    if (missing.length) {
      try {
        const filled = await this.fillFromOwner(missing);
        if (filled.size) {
          const again = new Map((await this.repo.relations(viewerId, [...filled])).map((r) => [r.targetId, r]));
          found = found.map((r) => again.get(r.targetId) ?? r);
        }
      } catch (error) {
        this.logger?.warn({ err: error, accounts: missing.length }, 'accounts not replicated yet; treated as private');
      }
    }
    const byId = new Map(found.map((r) => [r.targetId, r]));
    return targetIds.map((id) => byId.get(id) ?? noRelation(id));
  }

  /** Internal `relations`: up to 500 targets, in the order given; `blocked` is either way. */
  async relations(viewerId: string, targetIds: string[]): Promise<Relation[]> {
    if (targetIds.length > MAX_RELATION_TARGETS) {
      throw badUserInput(`At most ${MAX_RELATION_TARGETS} targets`, 'targetIds');
    }
    const viewer = normalizeId(viewerId);
    // A viewer id naming nobody (e.g. a stand-in for anonymous viewers) relates to nothing, but privacy still shows.
    const rows = await this.relationsOf(isUuid(viewer) ? viewer : null, targetIds.map(normalizeId));
    return rows.map((r, i) => ({
      targetId: targetIds[i]!,
      following: r.following,
      requested: r.requested,
      blocked: r.blocking || r.blockedBy,
      muted: r.muted,
      targetIsPrivate: r.targetIsPrivate,
    }));
  }

  /**
   * Internal `audience`: `relations` turned around, many viewers and one target (up to MAX_PAIRS viewers), answered
   * as the sets of viewers (lower-case ids) that have each relation. An unknown target is private (fail closed).
   */
  async audience(targetId: string, viewerIds: string[]): Promise<AudienceRecord> {
    if (viewerIds.length > MAX_PAIRS) throw badUserInput(`At most ${MAX_PAIRS} viewers`, 'viewerIds');
    const target = normalizeId(targetId);
    const [targetRelation] = await this.relationsOf(null, [target]);
    const valid = isUuid(target) ? [...new Set(viewerIds.map(normalizeId).filter(isUuid))] : [];
    const sets = valid.length ? await this.repo.audience(target, valid) : null;
    const blocked = new Set([...(sets?.blocking ?? []), ...(sets?.blockedBy ?? [])]);
    return {
      targetId,
      targetIsPrivate: targetRelation?.targetIsPrivate ?? true,
      following: sets?.following ?? [],
      requested: sets?.requested ?? [],
      blocked: [...blocked],
      muted: sets?.muted ?? [],
    };
  }

  /** Internal `mutedOrBlocked`: up to 5000 pairs, in the order given; pairs naming nobody are all false. */
  async mutedOrBlocked(pairs: { userId: string; otherId: string }[]): Promise<PairRecord[]> {
    if (pairs.length > MAX_PAIRS) throw badUserInput(`At most ${MAX_PAIRS} pairs`, 'pairs');
    const valid = pairs
      .map((p) => ({ userId: normalizeId(p.userId), otherId: normalizeId(p.otherId) }))
      .filter((p) => isUuid(p.userId) && isUuid(p.otherId));
    const found = valid.length ? await this.repo.pairs(valid) : [];
    const byPair = new Map(found.map((r) => [`${r.userId}:${r.otherId}`, r]));
    return pairs.map((p) => {
      const r = byPair.get(`${normalizeId(p.userId)}:${normalizeId(p.otherId)}`);
      return { userId: p.userId, otherId: p.otherId, muted: r?.muted ?? false, blocked: r?.blocked ?? false };
    });
  }

  /** Internal `followerIds`: keyset pages of up to 5000 ids for the feed fan-out. */
  async followerIds(userId: string, first: number | null | undefined, after: string | null | undefined) {
    const size = first ?? DEFAULT_ID_PAGE;
    if (!Number.isInteger(size) || size < 1 || size > MAX_ID_PAGE) {
      throw badUserInput(`first must be between 1 and ${MAX_ID_PAGE}`, 'first');
    }
    const id = normalizeId(userId);
    const list = Lists.followerIds(id);
    const key = parseListCursor(list, after);
    if (!isUuid(id)) return { ids: [], endCursor: null, hasNextPage: false };
    const rows = await this.repo.list('followers', id, key, size + 1, null);
    const page = rows.slice(0, size);
    const last = page.at(-1);
    return {
      ids: page.map((r) => r.id),
      endCursor: last ? listCursor(list, last) : null,
      hasNextPage: rows.length > size,
    };
  }

  /**
   * Followers or following of `user` as `viewerId` may see them: nothing when the user blocked the viewer or is
   * private and the viewer neither is the user nor follows them; users who blocked the viewer are left out.
   */
  async edgeList(
    kind: 'followers' | 'following',
    user: UserRef,
    viewerId: string | null,
    relation: () => Promise<RelationRecord>,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Connection<UserRef>> {
    const size = pageSize(first);
    const list = Lists[kind](user.id);
    const key = parseListCursor(list, after);
    if (!isUuid(user.id) || !(await this.canSeeLists(user.id, viewerId, relation)))
      return toUserConnection(list, [], size);
    const rows = await this.repo.list(kind, user.id, key, size + 1, viewerId);
    return toUserConnection(list, rows, size);
  }

  async followRequests(viewerId: string, first: number | null | undefined, after: string | null | undefined) {
    const size = pageSize(first);
    const list = Lists.followRequests(viewerId);
    const rows = await this.repo.list('requests', viewerId, parseListCursor(list, after), size + 1, null);
    return toUserConnection(list, rows, size);
  }

  // ------------------------------------------------------------------ helpers

  private async canSeeLists(userId: string, viewerId: string | null, relation: () => Promise<RelationRecord>) {
    if (viewerId === userId) return true;
    const r = await relation();
    if (r.blockedBy) return false;
    return !r.targetIsPrivate || r.following;
  }

  /** The other user of a mutation, normalized: yourself is BAD_USER_INPUT, a non-id NOT_FOUND. */
  private otherUser(viewerId: string, userId: string, verb: string): string {
    const id = normalizeId(userId);
    if (id === viewerId) throw badUserInput(`You cannot ${verb} yourself`, 'userId');
    if (!isUuid(id)) throw notFound(USER_NOT_FOUND);
    return id;
  }

  /** A transaction of a mutation on a pair: a target the replica misses is filled from the owner first. */
  private inTransaction<T>(work: (tx: SocialTransaction) => Promise<T>): Promise<T> {
    return this.withReplica(() => this.repo.transaction(work));
  }

  private async lockPairWithTarget(tx: SocialTransaction, viewerId: string, targetId: string): Promise<AccountRecord> {
    const target = (await tx.lockPair(viewerId, targetId)).get(targetId);
    if (!target) throw new ReplicaMiss(targetId);
    return target;
  }

  private requireAccount(userId: string): Promise<AccountRecord> {
    return this.withReplica(async () => {
      const account = await this.repo.findAccount(userId);
      if (!account) throw new ReplicaMiss(userId);
      return account;
    });
  }
}

function toUserConnection(list: string, rows: ListRow[], size: number): Connection<UserRef> {
  return toConnection(
    rows,
    size,
    (row) => listCursor(list, row),
    (row) => ({ id: row.id }),
  );
}
