import { readFileSync } from 'node:fs';
import dotenv from 'dotenv';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { formatProblem } from './env-reader.ts';
import { createLogger, type Logger } from './log.ts';
import { type App, buildApp } from './server/app.ts';

/** Exit code for a configuration that cannot start (a usage error, like a bad flag). */
export const EXIT_CONFIG = 2;

/** What `runServer` leaves running: the app and where it listens. */
export interface RunningServer {
  readonly app: App;
  readonly url: string;
}

/**
 * The one start path of a streamgate process (`npm start` and `streamgate serve`): reads the
 * environment (`.env` fills in what it leaves unset) with `overrides` on top, builds the app,
 * drains on SIGTERM/SIGINT and listens. A bad configuration exits the process with code 2.
 */
export async function runServer(overrides: Readonly<Record<string, string>> = {}): Promise<RunningServer> {
  // .env fills in what the environment leaves unset; the environment wins.
  dotenv.config({ quiet: true });
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };

  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(
      { ...process.env, ...overrides },
      { isTerminal: process.stdout.isTTY === true, version },
    );
  } catch (error) {
    exitOnConfigError(error);
  }

  const log = createLogger(config);
  let app: App;
  try {
    app = await buildApp(config, { log });
  } catch (error) {
    // Files named by the config (TOPICS_FILE, ...) are checked while building: same exit code.
    exitOnConfigError(error);
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
    {
      url: `${url}/graphql`,
      broker: config.broker.kind,
      database: app.services.db.kind,
      auth: config.auth.mode,
    },
    'streamgate is listening',
  );
  announceAuthMode(config, log, app);
  return { app, url };
}

/** Dev mode and AUTH_DISABLED are said loudly, on stderr as well as in the log (docs/auth.md). */
function announceAuthMode(config: Config, log: Logger, app: App): void {
  if (config.auth.mode === 'dev') {
    log.warn(
      { host: config.http.host },
      'DEV MODE: no JWT_SECRET or JWT_JWKS_URL; loopback only, anonymous callers allowed; use the dev token printed on stderr',
    );
    process.stderr.write(
      [
        '',
        '*** streamgate DEV MODE: no JWT_SECRET or JWT_JWKS_URL set. Loopback only; NOT for production. ***',
        'Dev token (valid 24h, this process only), send as "Authorization: Bearer <token>":',
        app.services.auth.devToken ?? '',
        '',
      ].join('\n'),
    );
  } else if (config.auth.mode === 'disabled') {
    log.warn(
      { host: config.http.host },
      'AUTH_DISABLED=true: every caller is anonymous and may do everything',
    );
  }
}

function exitOnConfigError(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
  process.exit(EXIT_CONFIG);
}
