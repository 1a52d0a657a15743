import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql ships CJS and ESM builds; Pothos and yoga load the CJS one, so tests must too, or
    // "Cannot use GraphQLObjectType from another module or realm" (graphql-js dual package hazard).
    alias: { graphql: 'graphql/index.js' },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Starts real Postgres, NATS, Redis and Kafka once per run (scripts/services/).
    globalSetup: ['test/setup/global-setup.ts'],
    pool: 'forks',
    // Generous: CI runs every suite on 2 cores beside four real servers, Kafka among them.
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    // A run prints what failed and why; no retries, so a flaky test shows up as flaky.
    retry: 0,
  },
});
