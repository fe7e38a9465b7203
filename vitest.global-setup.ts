import { prepareTemplateDatabase } from '@insta/db/testing';
import { removeStaleTestStreams, testServices } from '@insta/infra/testing';

/**
 * Once per test run: delete the streams earlier runs left on the shared NATS (older than an hour; they reserve
 * its storage), and migrate this run's template database, which every test database is copied from; the
 * returned teardown drops it.
 */
export default async function setup() {
  await removeStaleTestStreams(testServices.natsUrl);
  return prepareTemplateDatabase();
}
