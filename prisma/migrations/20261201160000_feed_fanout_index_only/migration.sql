-- The fan-out's batch query (FollowersRepository.activeInRange) as two index-only scans (ADR 18): the range of an
-- author's active follows, then each follower's last activity, without reading either table's rows.

-- DropIndex
DROP INDEX "feed"."follows_followee_id_follower_id_idx";

-- CreateIndex
CREATE INDEX "follows_followee_id_follower_id_active_idx" ON "feed"."follows"("followee_id", "follower_id", "active");

-- CreateIndex
CREATE INDEX "users_user_id_last_active_at_idx" ON "feed"."users"("user_id", "last_active_at");
