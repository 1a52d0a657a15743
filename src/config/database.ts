import type { EnvReader } from './env-reader.ts';

export interface DatabaseConfig {
  /** Postgres connection string; unset → embedded PGlite. (DATABASE_URL) */
  readonly url: string | undefined;
  /** Where PGlite keeps its files. @default "./.streamgate/db" (PGLITE_DIR) */
  readonly pgliteDir: string;
}

export function readDatabaseConfig(read: EnvReader): DatabaseConfig {
  return {
    url: read.url('DATABASE_URL', ['postgres', 'postgresql']),
    pgliteDir: read.string('PGLITE_DIR', './.streamgate/db'),
  };
}
