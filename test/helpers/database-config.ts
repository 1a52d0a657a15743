import type { DatabaseConfig } from '../../src/config/database.ts';

/** The database settings of a test that opens Postgres at `url` itself: the documented defaults. */
export function postgresConfig(url: string, overrides: Partial<DatabaseConfig> = {}): DatabaseConfig {
  return {
    url,
    pgliteDir: '',
    connectTimeoutMs: 5_000,
    statementTimeoutMs: 60_000,
    preparedStatements: true,
    ...overrides,
  };
}
