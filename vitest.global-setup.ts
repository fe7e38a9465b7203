import { prepareTemplateDatabase } from '@insta/db/testing';

/**
 * Once per test run: migrate this run's template database, which every test database is copied from; the
 * returned teardown drops it.
 */
export default function setup() {
  return prepareTemplateDatabase();
}
