import { ServerFault } from './errors.ts';

/**
 * A failure that stops start-up, said in one line that names the setting to look at and the
 * cause (README: Start-up failures). The process prints `streamgate: cannot start: <message>`
 * and exits 1; a bad setting (ConfigError) exits 2 instead.
 */
export class StartupError extends ServerFault {}

/** The cause of a low-level error in a few words: its code when it has one, else its message. */
export function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  const message = error.message.split('\n')[0] ?? '';
  if (error instanceof AggregateError && error.errors.length > 0) {
    // Node reports a refused dual-stack connect as an AggregateError with an empty message.
    return describeCause(error.errors[0]);
  }
  if (code && !message.includes(code)) return message ? `${message} (${code})` : code;
  return message || error.name;
}
