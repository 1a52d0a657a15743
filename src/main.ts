import { readFileSync } from 'node:fs';
import dotenv from 'dotenv';
import { ConfigError, loadConfig } from './config.ts';
import { formatProblem } from './env-reader.ts';
import { createLogger } from './log.ts';
import { buildApp } from './server/app.ts';

/** Exit code for a configuration that cannot start (a usage error, like a bad flag). */
const EXIT_CONFIG = 2;

// .env fills in what the environment leaves unset; the environment wins.
dotenv.config({ quiet: true });

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env, { isTerminal: process.stdout.isTTY === true, version });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
  process.exit(EXIT_CONFIG);
}

const log = createLogger(config);
let app: Awaited<ReturnType<typeof buildApp>>;
try {
  app = await buildApp(config, { log });
} catch (error) {
  // Files named by the config (TOPICS_FILE, ...) are checked while building: same exit code.
  if (!(error instanceof ConfigError)) throw error;
  for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
  process.exit(EXIT_CONFIG);
}

let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals += 1;
  if (signals > 1) {
    log.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  log.info({ signal }, 'signal received');
  const hardStop = setTimeout(() => {
    log.error('graceful shutdown did not finish in time');
    process.exit(1);
  }, config.http.shutdownTimeoutMs);
  hardStop.unref();
  app.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
};
// Registered before listening, so a signal that arrives right after start-up still drains.
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

const { url } = await app.listen();
log.info(
  { url: `${url}/graphql`, broker: config.broker.kind, database: app.services.db.kind },
  'streamgate is listening',
);
