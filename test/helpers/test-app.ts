import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../src/config/config.ts';
import { type App, buildApp } from '../../src/main/app.ts';
import type { Broker } from '../../src/pubsub/broker.ts';
import { createTestDatabase } from '../setup/services.ts';

export interface TestApp {
  readonly app: App;
  readonly config: Config;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** ws://127.0.0.1:PORT/graphql */
  readonly wsUrl: string;
  /** POSTs a GraphQL operation in-process through yoga.fetch and returns the parsed body. */
  graphql<Data = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string },
  ): Promise<GraphQLResponse<Data>>;
  stop(): Promise<void>;
}

export interface GraphQLResponse<Data> {
  readonly data?: Data | null;
  readonly errors?: ReadonlyArray<{
    message: string;
    extensions?: Record<string, unknown>;
    path?: unknown[];
  }>;
}

export interface TestAppOptions {
  /** Extra environment, as a user would set it. */
  readonly env?: Record<string, string>;
  /** `postgres` gives the app its own database on the shared test Postgres. @default 'pglite' */
  readonly database?: 'pglite' | 'postgres';
  /** A broker shared with another app or the test itself; the app does not close it. */
  readonly broker?: Broker;
}

/** Builds and starts a streamgate on a free port, with a throwaway database. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const pgliteDir = await mkdtemp(join(tmpdir(), 'streamgate-pglite-'));
  const databaseEnv =
    options.database === 'postgres'
      ? { DATABASE_URL: await createTestDatabase() }
      : { PGLITE_DIR: pgliteDir };
  const config = loadConfig({ LOG_LEVEL: 'silent', PORT: '0', ...databaseEnv, ...options.env });
  const app = await buildApp(config, options.broker ? { broker: options.broker } : {});
  const { url } = await app.listen(0, '127.0.0.1');
  return {
    app,
    config,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/graphql`,
    async graphql(query, variables, requestOptions) {
      const response = await app.yoga.fetch('http://streamgate.test/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(requestOptions?.token ? { authorization: `Bearer ${requestOptions.token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as GraphQLResponse<never>;
    },
    async stop() {
      await app.stop();
      await rm(pgliteDir, { recursive: true, force: true });
    },
  };
}
