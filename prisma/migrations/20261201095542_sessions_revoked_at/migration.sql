-- CreateIndex
CREATE INDEX "sessions_revoked_at_idx" ON "users"."sessions"("revoked_at");
