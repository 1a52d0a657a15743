import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type DockerStage, lastInstruction, parseDockerfile, stageEnv } from '../helpers/dockerfile.ts';
import {
  createProcessRunner,
  freePort,
  type StreamgateProcess,
  waitForListening,
} from '../helpers/streamgate-process.ts';
import { createTestDatabase, serviceUrl } from '../setup/services.ts';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const processes = createProcessRunner();
afterAll(() => processes.cleanup());

const readText = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');

async function runtimeStage(): Promise<DockerStage> {
  const stages = parseDockerfile(await readText('Dockerfile'));
  const stage = stages.at(-1);
  if (!stage) throw new Error('the Dockerfile has no stage');
  return stage;
}

/** The image's CMD as an argv (exec form), node being this machine's node. */
async function imageCommand(): Promise<string[]> {
  const command = JSON.parse(lastInstruction(await runtimeStage(), 'CMD') ?? '[]') as string[];
  expect(command[0]).toBe('node');
  return [process.execPath, ...command.slice(1)];
}

async function health(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** SIGTERM, then exit 0 within the drain time. */
async function stopGracefully(server: StreamgateProcess): Promise<void> {
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
  expect(server.output()).not.toContain('"level":50');
}

// The first `npm run build` on a loaded 2-core machine takes minutes.
beforeAll(async () => {
  await run('npm', ['run', 'build'], { cwd: root, timeout: 600_000 });
}, 600_000);

describe('the production path: npm run build, then node dist/main.js as the image runs it', {
  timeout: 120_000,
}, () => {
  it('the runtime image carries the build, the migrations, the CLI and examples/', async () => {
    const stage = await runtimeStage();
    const copies = stage.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(copies).toEqual(
      expect.arrayContaining([
        '--from=build /app/dist ./dist',
        'prisma ./prisma',
        'bin ./bin',
        'examples ./examples',
      ]),
    );
    // `docker run … streamgate status`: the CLI is on PATH and finds the server in the container.
    expect(
      stage.instructions.some(
        (i) =>
          i.keyword === 'RUN' && i.args.includes('ln -s /app/bin/streamgate.js /usr/local/bin/streamgate'),
      ),
    ).toBe(true);
    expect(stageEnv(stage).STREAMGATE_URL).toBe(`http://127.0.0.1:${stageEnv(stage).PORT}`);
    for (const path of [
      'dist/main.js',
      'dist/cli/main.js',
      'bin/streamgate.js',
      'examples/templates/counter.json',
    ]) {
      expect((await stat(new URL(`../../${path}`, import.meta.url))).isFile(), path).toBe(true);
    }
  });

  it("with the Dockerfile's environment and no auth it refuses to start, naming JWT_SECRET (exit 2)", async () => {
    const server = processes.start(stageEnv(await runtimeStage()), await imageCommand());
    expect(await server.exited).toBe(2);
    expect(server.output()).toContain('JWT_SECRET');
    expect(server.output()).toContain('config: HOST="0.0.0.0" is invalid');
  });

  it("with the Dockerfile's environment plus JWT_SECRET against Postgres and NATS: healthy, the image's HEALTHCHECK and CLI pass, SIGTERM exits 0", async () => {
    const stage = await runtimeStage();
    const port = await freePort();
    const env = {
      ...stageEnv(stage),
      // What `docker run -e …` adds; PORT is a free one because 4000 may be taken on this machine.
      JWT_SECRET: randomBytes(32).toString('hex'),
      DATABASE_URL: await createTestDatabase(),
      BROKER: 'nats',
      NATS_URL: serviceUrl('nats'),
      PORT: String(port),
    };
    const server = processes.start(env, await imageCommand());
    await waitForListening(server.lines);
    expect(await health(port)).toMatchObject({
      status: 200,
      body: { status: 'ok', dependencies: { database: 'ok', broker: 'ok' } },
    });

    const healthcheck = lastInstruction(stage, 'HEALTHCHECK') ?? '';
    const probe = healthcheck.slice(healthcheck.indexOf('CMD ') + 4);
    await run('sh', ['-c', probe], { env: { PATH: process.env.PATH ?? '', PORT: String(port) } });

    // The built CLI, as `streamgate status` runs it in the image (bin/ falls back to dist/ there).
    const status = await run(process.execPath, ['dist/cli/main.js', 'status'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', STREAMGATE_URL: `http://127.0.0.1:${port}` },
    });
    expect(status.stdout).toContain('ok');

    await stopGracefully(server);
  });

  it('docker-compose.yml: streamgate with Postgres and NATS by default, Kafka and Redis as profiles, at the tested versions', async () => {
    const compose = parseYaml(await readText('docker-compose.yml')) as {
      services: Record<string, { image?: string; profiles?: string[]; depends_on?: Record<string, unknown> }>;
    };
    const { services } = compose;
    expect(Object.keys(services).sort()).toEqual(['kafka', 'nats', 'postgres', 'redis', 'streamgate']);
    for (const name of ['streamgate', 'postgres', 'nats'])
      expect(services[name]?.profiles, name).toBeUndefined();
    expect(services.kafka?.profiles).toEqual(['kafka']);
    expect(services.redis?.profiles).toEqual(['redis']);
    expect(Object.keys(services.streamgate?.depends_on ?? {}).sort()).toEqual(['nats', 'postgres']);

    // The versions scripts/services/ runs the tests against.
    const postgresScript = await readText('scripts/services/postgres.sh');
    expect(services.postgres?.image).toBe(`postgres:${/^PG_VERSION=(\d+)$/m.exec(postgresScript)?.[1]}`);
    const kafkaScript = await readText('scripts/services/kafka.sh');
    expect(services.kafka?.image).toBe(
      `apache/kafka:${/STREAMGATE_KAFKA_VERSION:-([\d.]+)/.exec(kafkaScript)?.[1]}`,
    );
    const natsVersion = /v([\d.]+)/.exec(
      execFileSync('nats-server', ['--version'], { encoding: 'utf8' }),
    )?.[1];
    expect(services.nats?.image).toBe(`nats:${natsVersion}`);
    expect(services.redis?.image).toMatch(/^redis:7\.0\.\d+$/);
  });

  it("the built server with exactly compose's environment (service hosts mapped to the test servers): healthy, SIGTERM exits 0", async () => {
    const compose = parseYaml(await readText('docker-compose.yml')) as {
      services: { streamgate: { environment: Record<string, string>; ports: string[] } };
    };
    const databaseUrl = new URL(await createTestDatabase());
    const natsUrl = new URL(serviceUrl('nats'));
    // Inside compose the services are reached by name; here by the test servers' loopback ports.
    const hosts: Record<string, string> = {
      'postgres:5432': `${databaseUrl.hostname}:${databaseUrl.port}`,
      'nats:4222': `${natsUrl.hostname}:${natsUrl.port}`,
    };
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(compose.services.streamgate.environment)) {
      let resolved = String(value).replace(
        /\$\{(\w+):-([^}]*)\}/g,
        (_, _name: string, fallback: string) => fallback,
      );
      for (const [from, to] of Object.entries(hosts))
        resolved = resolved.replace(`@${from}/`, `@${to}/`).replace(`//${from}`, `//${to}`);
      env[name] = resolved;
    }
    // The database compose creates is `streamgate` owned by `streamgate`; the test server's is a fresh one.
    env.DATABASE_URL = databaseUrl.toString();
    expect(compose.services.streamgate.ports).toEqual([`${4000}:${4000}`]);
    expect(env).toMatchObject({ BROKER: 'nats', AUTH_DISABLED: 'true' });

    const port = await freePort();
    const server = processes.start(
      { ...stageEnv(await runtimeStage()), ...env, PORT: String(port) },
      await imageCommand(),
    );
    await waitForListening(server.lines);
    expect(await health(port)).toMatchObject({
      status: 200,
      body: { status: 'ok', dependencies: { database: 'ok', broker: 'ok' } },
    });
    expect(server.output()).toContain('AUTH_DISABLED=true');
    await stopGracefully(server);
  });
});

describe('npm start', { timeout: 120_000 }, () => {
  it('runs one process that receives signals itself: SIGTERM to what npm start started stops the server', async () => {
    const port = await freePort();
    const server = processes.start({ DATABASE_URL: await createTestDatabase(), PORT: String(port) }, [
      'npm',
      'start',
    ]);
    await waitForListening(server.lines);
    const tree = descendants(server.child.pid ?? 0);
    // npm's child is node running the server: no shell or tsx wrapper in between to be orphaned.
    expect(tree.map(commandLine)).toEqual(['node --import tsx src/main.ts ']);

    try {
      server.child.kill('SIGTERM');
      await server.exited;
      // Nothing left behind: every process of the tree is gone (npm passed the signal on)...
      await expect.poll(() => tree.filter(isRunning), { timeout: 15_000 }).toEqual([]);
    } finally {
      for (const pid of tree.filter(isRunning)) process.kill(pid, 'SIGKILL');
    }
    // ...because the server drained and stopped, as a signal to it directly would have it.
    expect(server.output()).toContain('"msg":"signal received"');
    expect(server.output()).toContain('"msg":"stopped"');
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });
});

/** Every process below `pid` (from /proc). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')) {
    const [child, parent] = entry.trim().split(/\s+/).map(Number);
    if (child === undefined || parent === undefined) continue;
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Alive and not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
