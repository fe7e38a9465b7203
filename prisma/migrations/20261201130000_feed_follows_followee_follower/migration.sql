-- DropIndex
DROP INDEX "feed"."follows_followee_id_idx";

-- CreateIndex
CREATE INDEX "follows_followee_id_follower_id_idx" ON "feed"."follows"("followee_id", "follower_id");
