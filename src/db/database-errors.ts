import { describeCause, StartupError } from '../startup-error.ts';
import { MigrationError } from './migrate.ts';

/** Host, port and database of a Postgres URL: what a start-up failure may show (never the password). */
export function describePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    return `host ${parsed.hostname || 'localhost'}, port ${parsed.port || '5432'}${database ? `, database ${database}` : ''}`;
  } catch {
    return 'an unparseable URL';
  }
}

/**
 * The StartupError of a database that could not be opened or migrated: `what` names the setting,
 * the cause follows; a failed migration names itself. The password of `url` is removed from the
 * cause, should a driver ever repeat it.
 */
export function failedToOpen(what: string, error: unknown, url?: string): StartupError {
  let cause = error instanceof MigrationError ? error.message : describeCause(error);
  const password = url ? passwordOf(url) : '';
  if (password) cause = cause.split(password).join('***');
  return new StartupError(`${what}: ${cause}`, { cause: error });
}

function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}
