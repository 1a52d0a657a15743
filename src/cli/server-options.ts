import { type Command, Option } from 'commander';
import { parseServerUrl } from './option-parsers.ts';
import type { ServerOptions } from './streamgate-client.ts';

/** The default server when neither --server nor STREAMGATE_URL is given. */
export const DEFAULT_SERVER = 'http://127.0.0.1:4000';

/** Adds --server and --token (with their environment variables) to a command that talks to a server. */
export function withServerOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--server <url>', 'streamgate server')
        .env('STREAMGATE_URL')
        .default(DEFAULT_SERVER)
        .argParser(parseServerUrl),
    )
    .addOption(new Option('--token <jwt>', 'bearer token for the server').env('STREAMGATE_TOKEN'));
}

/** The server options of a parsed command. */
export function serverOptionsOf(options: { server: string; token?: string }): ServerOptions {
  return { server: options.server, token: options.token || undefined };
}
