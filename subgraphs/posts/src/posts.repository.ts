import type { PrismaClient } from '@insta/db';

export interface PostRecord {
  id: string;
  authorId: string;
  text: string | null;
  createdAt: Date;
  editedAt: Date | null;
}

const columns = { id: true, authorId: true, text: true, createdAt: true, editedAt: true } as const;

/** The only code that touches posts.posts. Soft-deleted posts are invisible to readers. */
export class PostsRepository {
  constructor(private readonly db: PrismaClient) {}

  findByIds(ids: readonly string[]): Promise<PostRecord[]> {
    return this.db.post.findMany({ where: { id: { in: [...ids] }, deletedAt: null }, select: columns });
  }
}
