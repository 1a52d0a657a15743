/** `npm run db:migrate`: applies prisma/migrations to DATABASE_URL (or the PGlite directory). */
import dotenv from 'dotenv';
import { ConfigError, loadConfig } from '../src/config/config.ts';
import { openDatabase } from '../src/db/create-database.ts';

dotenv.config({ quiet: true });
try {
  const config = loadConfig(process.env);
  // Opening the database applies every pending migration, for Postgres and PGlite alike.
  const db = await openDatabase(config);
  await db.close();
  console.log(
    `migrations applied to ${config.database.url ? 'Postgres' : `PGlite at ${config.database.pgliteDir}`}`,
  );
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
