import { defineConfig } from 'prisma/config';
import { useOfflineEngineIfNeeded } from './src/schema-engine';

// The CLI loads this file before it looks for (and would try to download) the schema-engine binary, so the
// environment variable set here is seen by every command.
useOfflineEngineIfNeeded();

export default defineConfig({
  schema: './schema.prisma',
  migrations: { path: './migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/insta_dev' },
});
