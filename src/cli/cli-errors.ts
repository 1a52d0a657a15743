/** Exit codes of the `streamgate` command line. */
export const EXIT = {
  OK: 0,
  /** Something failed while running: the server is down, it refused, a file is unreadable. */
  RUNTIME: 1,
  /** The command line itself is wrong: bad flags, missing options, a bad duration or number. */
  USAGE: 2,
} as const;

/** A failure while running a command; its message is printed as one line and the exit code is 1. */
export class CliError extends Error {
  readonly exitCode: number = EXIT.RUNTIME;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A usage error found after parsing (a bad template, conflicting options): exit code 2. */
export class UsageError extends CliError {
  override readonly exitCode: number = EXIT.USAGE;
}

/** The message of any thrown value, for one line on stderr. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
