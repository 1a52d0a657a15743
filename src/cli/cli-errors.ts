import { ServerFault } from '../errors.ts';

/** Exit codes of the `streamgate` command line. */
export const EXIT = {
  OK: 0,
  /** Something failed while running: the server is down, it refused, a file is unreadable. */
  RUNTIME: 1,
  /** The command line itself is wrong: bad flags, missing options, a bad duration or number. */
  USAGE: 2,
} as const;

/**
 * A failure while running a command; its message is printed as one line and the exit code is 1.
 * A ServerFault like the server's own start-up failures: told to the operator, never an API error.
 */
export class CliError extends ServerFault {
  readonly exitCode: number = EXIT.RUNTIME;
}

/** A usage error found after parsing (a bad template, conflicting options): exit code 2. */
export class UsageError extends CliError {
  override readonly exitCode: number = EXIT.USAGE;
}
