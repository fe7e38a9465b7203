import { runMain } from '@insta/infra';
import { formatSummary, runSeed } from './demo/main.ts';

// `npm run seed`: demo data in a running system (SEED_GATEWAY_URL, default http://127.0.0.1:4000/graphql).
runMain(async () => {
  const summary = await runSeed(process.env);
  console.log(formatSummary(summary, null));
});
