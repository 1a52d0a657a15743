import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layers of docs/architecture.md, read from the import graph: every import of every file
 * under src (static, `import type`, `export … from`, dynamic `import()`) is checked against the
 * arrows below. The graph is read with TypeScript's own pre-processor, so a type-only import
 * counts like any other: a type pulled upward ties the layers as much as a value does.
 */

const root = new URL('../..', import.meta.url).pathname;

const LAYERS = [
  'config',
  'shared',
  'generated',
  'db',
  'pubsub',
  'domain',
  'resolvers',
  'schema',
  'server',
  'main',
  'cli',
] as const;
type Layer = (typeof LAYERS)[number];

/** What each layer may import besides itself, and why; anything else is a forbidden arrow. */
const MAY_IMPORT: Readonly<Record<Layer, { readonly layers: readonly Layer[]; readonly why: string }>> = {
  config: { layers: [], why: 'the config is read by everyone and imports nothing of the project' },
  shared: {
    layers: ['config'],
    why: 'the shared modules (errors, log, metrics, type guards, formats) sit under every layer',
  },
  generated: { layers: [], why: 'generated code imports only itself' },
  db: { layers: ['config', 'shared', 'generated'], why: 'the database knows no broker and no domain' },
  pubsub: { layers: ['config', 'shared'], why: 'the brokers know no database and no domain' },
  domain: {
    layers: ['config', 'shared', 'generated', 'db', 'pubsub'],
    why: 'the domain never imports upward: transports, schema and resolvers are built on it',
  },
  resolvers: {
    layers: ['config', 'shared', 'domain'],
    why: 'resolvers are a domain call: not the schema above them, nor the database and broker behind the domain',
  },
  schema: {
    layers: ['config', 'shared', 'domain', 'resolvers'],
    why: 'the schema wires resolvers to domain types; the database and the broker are behind the domain',
  },
  server: {
    layers: ['config', 'shared', 'domain', 'schema', 'resolvers'],
    why: 'transports get the domain from the composition root, never a database, a broker or a Kafka client',
  },
  main: {
    layers: ['config', 'shared', 'generated', 'db', 'pubsub', 'domain', 'resolvers', 'schema', 'server'],
    why: 'the composition root knows every layer, but the CLI is a client of it, not a part',
  },
  cli: {
    layers: ['config', 'shared', 'main'],
    why: 'the CLI talks to a server over GraphQL; it starts one only through the start path',
  },
};

/** Client libraries of the brokers and the database, and the one layer each belongs to. */
const PACKAGE_OWNERS: ReadonlyArray<{ readonly pattern: RegExp; readonly layers: readonly Layer[] }> = [
  { pattern: /^(kafkajs|ioredis|nats|@nats-io\/.*|@graphql-yoga\/redis-event-target)$/, layers: ['pubsub'] },
  {
    pattern: /^(pg|pg-copy-streams|@electric-sql\/pglite|pglite-prisma-adapter|@prisma\/.*)$/,
    layers: ['db', 'generated'],
  },
];

const FOLDER_LAYERS: Readonly<Record<string, Layer>> = {
  config: 'config',
  generated: 'generated',
  db: 'db',
  pubsub: 'pubsub',
  domain: 'domain',
  resolvers: 'resolvers',
  schema: 'schema',
  server: 'server',
  main: 'main',
  cli: 'cli',
};
/** The start path beside the composition root. */
const MAIN_FILES = new Set(['main.ts', 'run-server.ts']);
/** Only pubsub itself (createBroker) picks a backend; the rest asks the Broker interface. */
const BROKER_BACKENDS = /^src\/pubsub\/(memory|nats|redis|kafka)\//;

/**
 * The layer of a path under src. A file at the top of src, or a folder not named above, is a
 * shared module (src/errors.ts, src/log.ts, a format both the CLI and the server read).
 */
function layerOf(path: string): Layer {
  const [, first = '', second] = path.split('/');
  if (second === undefined) return MAIN_FILES.has(first) ? 'main' : 'shared';
  return FOLDER_LAYERS[first] ?? 'shared';
}

/** Why `from` may not import `target` (a path under src, or a package name); undefined when it may. */
function forbiddenArrow(from: string, target: string): string | undefined {
  const fromLayer = layerOf(from);
  if (!target.startsWith('src/')) {
    const owner = PACKAGE_OWNERS.find(({ pattern }) => pattern.test(target));
    if (!owner || owner.layers.includes(fromLayer)) return undefined;
    return `${from} imports the package ${target}: only src/${owner.layers.join(' or src/')} may`;
  }
  const toLayer = layerOf(target);
  if (BROKER_BACKENDS.test(target) && fromLayer !== 'pubsub')
    return `${from} imports ${target}: a broker backend is picked by src/pubsub/create-broker.ts alone; import the Broker interface`;
  if (toLayer === fromLayer || MAY_IMPORT[fromLayer].layers.includes(toLayer)) return undefined;
  return `${from} (${fromLayer}) imports ${target} (${toLayer}): ${MAY_IMPORT[fromLayer].why}`;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) return sourceFiles(path);
      return Promise.resolve(/\.(ts|tsx|mts|cts)$/.test(entry.name) ? [path] : []);
    }),
  );
  return nested.flat();
}

/** Every import of `file` as a path relative to the repository (relative specifiers) or a package name. */
async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(join(root, file), 'utf8');
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles.map(({ fileName }) => {
    if (fileName.startsWith('.')) return relative(root, resolve(dirname(join(root, file)), fileName));
    if (fileName.startsWith('node:')) return fileName;
    // A package's own name: `@scope/name` or `name`, without a subpath.
    const parts = fileName.split('/');
    return fileName.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? fileName);
  });
}

describe('the import graph follows the layers', () => {
  it('no file under src imports across a forbidden arrow', async () => {
    const violations: string[] = [];
    for (const file of await sourceFiles('src')) {
      for (const target of await importsOf(file)) {
        const problem = forbiddenArrow(file, target);
        if (problem) violations.push(problem);
      }
    }
    expect(violations).toEqual([]);
  });

  it.each([
    ['src/server/health-route.ts', 'src/db/create-database.ts'],
    ['src/server/ops/stats-route.ts', 'src/pubsub/broker.ts'],
    ['src/schema/topics.ts', 'src/pubsub/subjects.ts'],
    ['src/resolvers/topics.ts', 'src/db/create-database.ts'],
    ['src/server/legacy-topics/stream-socket.ts', 'kafkajs'],
    ['src/domain/topics/topic-service.ts', 'kafkajs'],
    ['src/domain/topics/topic-service.ts', 'src/pubsub/kafka/kafka-client.ts'],
    ['src/domain/topics/topic-service.ts', 'src/server/operation-runner.ts'],
    ['src/domain/states/state-service.ts', 'src/schema/context.ts'],
    ['src/domain/states/state-service.ts', 'src/main/app.ts'],
    ['src/resolvers/states.ts', 'src/schema/context.ts'],
    ['src/schema/states.ts', 'src/server/operation-runner.ts'],
    ['src/config/config.ts', 'src/pubsub/broker.ts'],
    ['src/config/limits.ts', 'src/errors.ts'],
    ['src/pubsub/broker.ts', 'src/domain/health.ts'],
    ['src/pubsub/create-broker.ts', 'src/db/create-database.ts'],
    ['src/db/create-database.ts', 'src/domain/services.ts'],
    ['src/db/create-database.ts', 'src/server/http-routes.ts'],
    ['src/errors.ts', 'src/domain/viewer.ts'],
    ['src/cli/record-command.ts', 'src/domain/devices/device-service.ts'],
    ['src/cli/record-command.ts', 'src/server/transports.ts'],
    ['src/server/transports.ts', 'src/main/app.ts'],
  ])('refuses %s -> %s', (from, target) => {
    expect(forbiddenArrow(from, target)).toBeTypeOf('string');
  });

  it.each([
    ['src/main/app.ts', 'src/db/create-database.ts'],
    ['src/main/app.ts', 'src/pubsub/create-broker.ts'],
    ['src/main/app.ts', 'src/server/transports.ts'],
    ['src/run-server.ts', 'src/main/app.ts'],
    ['src/cli/serve-command.ts', 'src/run-server.ts'],
    ['src/server/transports.ts', 'src/domain/services.ts'],
    ['src/server/transports.ts', 'src/schema/index.ts'],
    ['src/schema/topics.ts', 'src/resolvers/topics.ts'],
    ['src/domain/topics/topic-service.ts', 'src/pubsub/broker.ts'],
    ['src/domain/states/state-service.ts', 'src/db/create-database.ts'],
    ['src/pubsub/create-broker.ts', 'src/pubsub/kafka/kafka-broker.ts'],
    ['src/pubsub/kafka/kafka-client.ts', 'kafkajs'],
    ['src/db/create-database.ts', 'pg'],
    ['src/log.ts', 'src/config/config.ts'],
    ['src/server/transports.ts', 'graphql-yoga'],
  ])('allows %s -> %s', (from, target) => {
    expect(forbiddenArrow(from, target)).toBeUndefined();
  });
});
