import type { Command } from 'commander';
import { parsePort } from './option-parsers.ts';

/** `streamgate serve`: a server in this process, through the same start path as `npm start`. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('start a streamgate server in this process (configured by the environment, like npm start)')
    .option('-p, --port <port>', 'port to listen on (overrides PORT)', parsePort)
    .option('--host <host>', 'address to bind (overrides HOST)')
    .addHelpText(
      'after',
      '\nEvery server setting is an environment variable; see the README configuration table.',
    )
    .action(async (options: { port?: number; host?: string }) => {
      // Imported here so that the other commands start without loading the server.
      const { runServer } = await import('../run-server.ts');
      await runServer({
        ...(options.port === undefined ? {} : { PORT: String(options.port) }),
        ...(options.host === undefined ? {} : { HOST: options.host }),
      });
      // The server runs until a signal; its handler drains and exits the process.
      await new Promise<never>(() => {});
    });
}
