import type { EnvReader } from './env-reader.ts';

export interface DatabaseConfig {
  /** Postgres connection string; unset → embedded PGlite. (DATABASE_URL) */
  readonly url: string | undefined;
  /** Where PGlite keeps its files. @default "./.streamgate/db" (PGLITE_DIR) */
  readonly pgliteDir: string;
  /**
   * How long a Postgres query waits for a connection (a new one, or a free one of the pool)
   * before it fails as UNAVAILABLE. @default 5s (DATABASE_CONNECT_TIMEOUT)
   */
  readonly connectTimeoutMs: number;
  /** Postgres `statement_timeout` of every connection; 0 = none. @default 60s (DATABASE_STATEMENT_TIMEOUT) */
  readonly statementTimeoutMs: number;
  /**
   * Whether the hot path's fixed statements (monitor ingest's) are prepared once per connection.
   * Off behind a pooler that does not keep a session's prepared statements (PgBouncer in
   * transaction mode before 1.21, or without `max_prepared_statements`). @default true
   * (DATABASE_PREPARED_STATEMENTS)
   */
  readonly preparedStatements: boolean;
}

export function readDatabaseConfig(read: EnvReader): DatabaseConfig {
  return {
    url: read.url('DATABASE_URL', ['postgres', 'postgresql']),
    pgliteDir: read.string('PGLITE_DIR', './.streamgate/db'),
    connectTimeoutMs: Math.max(1, read.duration('DATABASE_CONNECT_TIMEOUT', 5_000)),
    statementTimeoutMs: read.duration('DATABASE_STATEMENT_TIMEOUT', 60_000),
    preparedStatements: read.boolean('DATABASE_PREPARED_STATEMENTS', true),
  };
}
