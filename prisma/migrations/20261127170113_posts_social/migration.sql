/*
  Warnings:

  - A unique constraint covering the columns `[author_id,idempotency_key]` on the table `posts` will be added. If there are existing duplicate values, this will fail.

*/
-- AlterTable
ALTER TABLE "media"."media" ADD COLUMN     "failure_reason" VARCHAR(200),
ADD COLUMN     "processed_at" TIMESTAMPTZ(3),
ADD COLUMN     "processing_attempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "upload_expires_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "posts"."posts" ADD COLUMN     "comment_count" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "idempotency_key" VARCHAR(100),
ADD COLUMN     "like_count" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "posts"."post_media" (
    "post_id" UUID NOT NULL,
    "media_id" UUID NOT NULL,
    "position" SMALLINT NOT NULL,

    CONSTRAINT "post_media_pkey" PRIMARY KEY ("post_id","position")
);

-- CreateTable
CREATE TABLE "posts"."post_edits" (
    "id" UUID NOT NULL,
    "post_id" UUID NOT NULL,
    "text" VARCHAR(2200),
    "replaced_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "post_edits_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "posts"."post_hashtags" (
    "tag" VARCHAR(100) NOT NULL,
    "post_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "post_hashtags_pkey" PRIMARY KEY ("post_id","tag")
);

-- CreateTable
CREATE TABLE "posts"."post_mentions" (
    "post_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "position" SMALLINT NOT NULL,

    CONSTRAINT "post_mentions_pkey" PRIMARY KEY ("post_id","user_id")
);

-- CreateTable
CREATE TABLE "posts"."likes" (
    "post_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "likes_pkey" PRIMARY KEY ("post_id","user_id")
);

-- CreateTable
CREATE TABLE "posts"."comments" (
    "id" UUID NOT NULL,
    "post_id" UUID NOT NULL,
    "author_id" UUID NOT NULL,
    "parent_id" UUID,
    "text" VARCHAR(2200) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(3),

    CONSTRAINT "comments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "media"."media_variants" (
    "media_id" UUID NOT NULL,
    "name" VARCHAR(32) NOT NULL,
    "object_key" TEXT NOT NULL,
    "content_type" VARCHAR(100) NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "size" INTEGER NOT NULL,

    CONSTRAINT "media_variants_pkey" PRIMARY KEY ("media_id","name")
);

-- CreateIndex
CREATE UNIQUE INDEX "post_media_post_id_media_id_key" ON "posts"."post_media"("post_id", "media_id");

-- CreateIndex
CREATE INDEX "post_edits_post_id_replaced_at_idx" ON "posts"."post_edits"("post_id", "replaced_at");

-- CreateIndex
CREATE INDEX "post_hashtags_tag_created_at_post_id_idx" ON "posts"."post_hashtags"("tag", "created_at" DESC, "post_id" DESC);

-- CreateIndex
CREATE INDEX "likes_user_id_post_id_idx" ON "posts"."likes"("user_id", "post_id");

-- CreateIndex
CREATE INDEX "comments_post_id_parent_id_created_at_id_idx" ON "posts"."comments"("post_id", "parent_id", "created_at", "id");

-- CreateIndex
CREATE INDEX "comments_parent_id_created_at_id_idx" ON "posts"."comments"("parent_id", "created_at", "id");

-- CreateIndex
CREATE UNIQUE INDEX "posts_author_id_idempotency_key_key" ON "posts"."posts"("author_id", "idempotency_key");

-- AddForeignKey
ALTER TABLE "posts"."post_media" ADD CONSTRAINT "post_media_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"."posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "posts"."post_edits" ADD CONSTRAINT "post_edits_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"."posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "posts"."post_hashtags" ADD CONSTRAINT "post_hashtags_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"."posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "posts"."post_mentions" ADD CONSTRAINT "post_mentions_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"."posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "posts"."likes" ADD CONSTRAINT "likes_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"."posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "posts"."comments" ADD CONSTRAINT "comments_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"."posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "posts"."comments" ADD CONSTRAINT "comments_parent_id_fkey" FOREIGN KEY ("parent_id") REFERENCES "posts"."comments"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "media"."media_variants" ADD CONSTRAINT "media_variants_media_id_fkey" FOREIGN KEY ("media_id") REFERENCES "media"."media"("id") ON DELETE CASCADE ON UPDATE CASCADE;
