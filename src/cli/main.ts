import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { messageOf } from '../errors.ts';
import { CliError, EXIT } from './cli-errors.ts';
import { registerDataCommands } from './data-command.ts';
import { registerRecordCommands } from './record-command.ts';
import { registerReplayCommand } from './replay-command.ts';
import { registerServeCommand } from './serve-command.ts';
import { registerStatusCommand } from './status-command.ts';

/** The `streamgate` program with every command group registered. */
export function createProgram(): Command {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const program = new Command('streamgate')
    .description('streamgate: serve, feed, watch, record and replay device telemetry')
    .version(version, '-V, --version')
    // Set before any subcommand is created: `.command()` copies these settings to its children.
    .exitOverride()
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      '\nServer-talking commands use --server (env STREAMGATE_URL, default http://127.0.0.1:4000)\n' +
        'and --token (env STREAMGATE_TOKEN). Exit codes: 0 ok, 1 runtime error, 2 usage error.',
    );
  registerServeCommand(program);
  registerStatusCommand(program);
  registerDataCommands(program);
  registerRecordCommands(program);
  registerReplayCommand(program);
  return program;
}

/** Runs the CLI and returns its exit code; errors are reported as one line on stderr. */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    await createProgram().parseAsync([...argv], { from: 'user' });
    return EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its one-line message (or the help).
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.OK;
      if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return EXIT.USAGE;
    }
    process.stderr.write(`error: ${messageOf(error)}\n`);
    return error instanceof CliError ? error.exitCode : EXIT.RUNTIME;
  }
}

// `streamgate replay … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.OK);
  throw error;
});

/** Resolves once everything written to the stream so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  // Writes complete in order, so the callback of an empty write means all before it are out.
  return new Promise((resolve) => stream.write('', () => resolve()));
}

// Sockets and timers of a finished command must not keep the process alive (`serve` never
// returns), but process.exit drops what a pipe has not taken yet: stdout to a pipe is
// asynchronous, so flush first.
const exitCode = await runCli(process.argv.slice(2));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(exitCode);
