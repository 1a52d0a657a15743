import { readFileSync } from 'node:fs';
import dotenv from 'dotenv';
import { type Config, ConfigError, loadConfig } from './config/config.ts';
import { formatProblem } from './config/env-reader.ts';
import { createLogger, type Logger } from './log.ts';
import { type App, buildApp } from './main/app.ts';
import { guardProcess } from './process-guard.ts';
import { describeCause, StartupError } from './startup-error.ts';

/** Exit code for a configuration that cannot start (a usage error, like a bad flag). */
export const EXIT_CONFIG = 2;

/** Exit code for a start-up that failed at run time (database, broker, port): worth a retry. */
export const EXIT_RUNTIME = 1;

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
    throw error;
  }

  const log = createLogger(config);
  let app: App;
  try {
    app = await buildApp(config, { log });
  } catch (error) {
    // Files named by the config (TOPICS_FILE, ...) are checked while building: same exit code.
    exitOnConfigError(error);
    exitOnStartupFailure(error, log);
  }

  // From here on, an error of one connection must not stop the others (an uncaught one is a bug,
  // logged with its stack and counted in process_uncaught_errors_total).
  guardProcess(process, log, app.services.metrics);

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

  let url: string;
  try {
    ({ url } = await app.listen());
  } catch (error) {
    exitOnStartupFailure(listenFailure(error, config), log);
  }
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

/** A ConfigError exits 2 with one line per problem; anything else is left to the caller. */
function exitOnConfigError(error: unknown): void {
  if (!(error instanceof ConfigError)) return;
  for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
  process.exit(EXIT_CONFIG);
}

/**
 * One line on stderr and exit 1. A StartupError already names the setting and the cause; an
 * unexpected error is said in one line too, with its stack in the log for whoever debugs it.
 */
function exitOnStartupFailure(error: unknown, log: Logger): never {
  if (!(error instanceof StartupError)) log.fatal({ err: error }, 'start-up failed');
  const line = error instanceof StartupError ? error.message : `unexpected error: ${describeCause(error)}`;
  process.stderr.write(`streamgate: cannot start: ${line}\n`);
  process.exit(EXIT_RUNTIME);
}

/** A listen error in terms of PORT and HOST. */
function listenFailure(error: unknown, config: Config): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `PORT=${config.http.port} on HOST=${config.http.host}`;
  const reasons: Record<string, string> = {
    EADDRINUSE: `${where} is already in use by another process`,
    EACCES: `${where} may not be bound by this user (ports below 1024 need privileges)`,
    EADDRNOTAVAIL: `HOST=${config.http.host} is not an address of this machine`,
  };
  const reason = code ? reasons[code] : undefined;
  return reason ? new StartupError(`${reason} (${code})`, { cause: error }) : error;
}
