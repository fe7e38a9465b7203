-- AlterTable
ALTER TABLE "feed"."blocks" ADD COLUMN     "active" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- AlterTable
ALTER TABLE "feed"."follows" DROP COLUMN "created_at",
ADD COLUMN     "active" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- AlterTable
ALTER TABLE "feed"."mutes" ADD COLUMN     "active" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- CreateTable
CREATE TABLE "feed"."notification_withdrawals" (
    "user_id" UUID NOT NULL,
    "type" "feed"."NotificationType" NOT NULL,
    "post_key" TEXT NOT NULL,
    "actor_id" UUID NOT NULL,
    "withdrawn_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "notification_withdrawals_pkey" PRIMARY KEY ("user_id","type","post_key","actor_id")
);
