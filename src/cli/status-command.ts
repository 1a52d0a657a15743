import type { Command } from 'commander';
import { CliError } from './cli-errors.ts';
import type { ServerStatusQuery } from './gql/graphql.ts';
import { graphql } from './gql/index.ts';
import { serverOptionsOf, withServerOptions } from './server-options.ts';
import { createStreamgateClient } from './streamgate-client.ts';

const ServerStatus = graphql(`
  query ServerStatus {
    health {
      status
      version
      uptimeSeconds
      dependencies {
        name
        status
        latencyMs
        error
      }
    }
  }
`);

/** `streamgate status`: the server's health, to check --server and --token before anything else. */
export function registerStatusCommand(program: Command): void {
  withServerOptions(
    program
      .command('status')
      .description("show the server's health and the health of each dependency (exit 1 when it is DOWN)")
      .option('--json', 'the health as JSON')
      .addHelpText('after', '\nExample: STREAMGATE_URL=http://127.0.0.1:4000 streamgate status'),
  ).action(async (options: { server: string; token?: string; json?: boolean }) => {
    const client = createStreamgateClient(serverOptionsOf(options));
    const { health } = await client.request(ServerStatus, {});
    if (options.json) process.stdout.write(`${JSON.stringify(health, null, 2)}\n`);
    else printHealth(client.server, health);
    if (health.status === 'DOWN') throw new CliError(`streamgate at ${client.server} is DOWN`);
  });
}

function printHealth(server: string, health: ServerStatusQuery['health']): void {
  process.stdout.write(
    `${server}: ${health.status} (version ${health.version}, up ${Math.round(health.uptimeSeconds)} s)\n`,
  );
  for (const dependency of health.dependencies) {
    const latency = dependency.latencyMs == null ? '' : ` ${dependency.latencyMs.toFixed(1)} ms`;
    process.stdout.write(
      `  ${dependency.name}: ${dependency.status}${latency}${dependency.error ? ` (${dependency.error})` : ''}\n`,
    );
  }
}
