import { prepareTemplateDatabase } from '@insta/db/testing';

/** Once per test run: migrate the template database that every test database is copied from. */
export default async function setup() {
  await prepareTemplateDatabase();
}
