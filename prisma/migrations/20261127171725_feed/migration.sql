-- AlterTable
ALTER TABLE "feed"."notifications" ADD COLUMN     "actor_count" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "comment_id" UUID,
ADD COLUMN     "post_id" UUID;

-- CreateTable
CREATE TABLE "feed"."notification_actors" (
    "notification_id" UUID NOT NULL,
    "actor_id" UUID NOT NULL,
    "acted_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "notification_actors_pkey" PRIMARY KEY ("notification_id","actor_id")
);

-- CreateTable
CREATE TABLE "feed"."users" (
    "user_id" UUID NOT NULL,
    "last_active_at" TIMESTAMPTZ(3) NOT NULL,
    "has_pull_posts" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "users_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "feed"."follows" (
    "follower_id" UUID NOT NULL,
    "followee_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "follows_pkey" PRIMARY KEY ("follower_id","followee_id")
);

-- CreateTable
CREATE TABLE "feed"."mutes" (
    "muter_id" UUID NOT NULL,
    "muted_id" UUID NOT NULL,

    CONSTRAINT "mutes_pkey" PRIMARY KEY ("muter_id","muted_id")
);

-- CreateTable
CREATE TABLE "feed"."blocks" (
    "blocker_id" UUID NOT NULL,
    "blocked_id" UUID NOT NULL,

    CONSTRAINT "blocks_pkey" PRIMARY KEY ("blocker_id","blocked_id")
);

-- CreateTable
CREATE TABLE "feed"."posts" (
    "post_id" UUID NOT NULL,
    "author_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "deleted_at" TIMESTAMPTZ(3),
    "fanned_out" BOOLEAN NOT NULL DEFAULT true,

    CONSTRAINT "posts_pkey" PRIMARY KEY ("post_id")
);

-- CreateIndex
CREATE INDEX "notification_actors_notification_id_acted_at_actor_id_idx" ON "feed"."notification_actors"("notification_id", "acted_at" DESC, "actor_id" DESC);

-- CreateIndex
CREATE INDEX "follows_followee_id_idx" ON "feed"."follows"("followee_id");

-- CreateIndex
CREATE INDEX "posts_author_id_created_at_post_id_idx" ON "feed"."posts"("author_id", "created_at" DESC, "post_id" DESC);

-- CreateIndex
CREATE INDEX "notifications_user_id_type_post_id_idx" ON "feed"."notifications"("user_id", "type", "post_id");

-- AddForeignKey
ALTER TABLE "feed"."notification_actors" ADD CONSTRAINT "notification_actors_notification_id_fkey" FOREIGN KEY ("notification_id") REFERENCES "feed"."notifications"("id") ON DELETE CASCADE ON UPDATE CASCADE;
