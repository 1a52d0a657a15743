import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITIES, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES } from '../../src/cli/fake-data.ts';
import { killCliProcesses, runCli, startCli } from '../helpers/cli-process.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streamgate-cli-'));
});
afterAll(async () => {
  killCliProcesses();
  await rm(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const COMMANDS = [[], ['serve'], ['data'], ['data', 'generate'], ['data', 'publish']];

describe('streamgate --help', () => {
  it.each(COMMANDS.map((path) => [path.join(' ') || '(top level)', path]))(
    '%s --help prints its usage and exits 0',
    async (_name, path) => {
      const result = await runCli([...(path as string[]), '--help']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(
        `Usage: streamgate${path.length ? ` ${path.join(' ')}` : ''} [options]`,
      );
    },
  );

  it('server-talking commands document --server and --token with their variables', async () => {
    const result = await runCli(['data', 'publish', '--help']);
    expect(result.stdout).toMatch(
      /--server <url>\s+streamgate server\s+\(default:\s+"http:\/\/127\.0\.0\.1:4000",\s+env: STREAMGATE_URL\)/,
    );
    expect(result.stdout).toMatch(/--token <jwt>\s+bearer token for the server\s+\(env: STREAMGATE_TOKEN\)/);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${version}\n` });
  });
});

describe('usage errors exit 2 with one clear line', () => {
  it.each([
    [['bogus'], "error: unknown command 'bogus'"],
    [['data', 'generate', '-t', 'x.json'], "error: required option '-c, --count <n>' not specified"],
    [['data', 'generate', '-c', '5'], "error: required option '-t, --template <file>' not specified"],
    [['data', 'generate', '-c', 'ten', '-t', 'x.json'], "argument 'ten' is invalid. Expected a whole number"],
    [
      ['data', 'generate', '-c', '0', '-t', 'x.json'],
      "argument '0' is invalid. Expected a whole number of at least 1",
    ],
    [
      ['data', 'generate', '-c', '3', '-t', 'x.json', '--step', 'soon'],
      "argument 'soon' is invalid. Expected a duration",
    ],
    [['data', 'publish', '--file', 'f.jsonl'], "error: required option '-d, --device-id <id>' not specified"],
    [['data', 'publish', '--device-id', 'd'], "error: required option '-f, --file <file>' not specified"],
    [
      ['data', 'publish', '--device-id', 'd', '--file', 'f', '--interval', '1x'],
      "argument '1x' is invalid. Expected a duration",
    ],
    [
      ['data', 'publish', '--device-id', '', '--file', 'f'],
      "argument '' is invalid. Expected a non-empty id",
    ],
    [['data', 'tail'], "error: required option '-d, --device-id <id>' not specified"],
    [
      ['data', 'tail', '--device-id', 'd', '--server', 'ftp://host'],
      "argument 'ftp://host' is invalid. Expected an http(s) URL",
    ],
    [
      ['data', 'tail', '--device-id', 'd', '--count', 'x'],
      "argument 'x' is invalid. Expected a whole number",
    ],
    [['record', 'start'], "error: required option '-d, --device-id <id>' not specified"],
    [
      ['record', 'start', '--device-id', 'd', '--retention', 'forever'],
      "argument 'forever' is invalid. Expected a duration",
    ],
    [
      ['record', 'start', '--device-id', 'd', '--pre-roll', '5'],
      "argument '5' is invalid. Expected a duration",
    ],
    [['record', 'stop'], "error: missing required argument 'id'"],
    [['record', 'show'], "error: missing required argument 'id'"],
    [['record', 'rm', 'a', 'b'], 'error: too many arguments'],
    [['record', 'export'], "error: missing required argument 'id'"],
    [['record', 'import'], "error: missing required argument 'file'"],
    [
      ['record', 'import', 'f.jsonl', '--id', 'x', '--new-id'],
      "error: option '--new-id' cannot be used with option '--id <id>'",
    ],
    [['replay'], "error: required option '-r, --recording <id>' not specified"],
    [
      ['replay', '--recording', 'r', '--speed', '-1'],
      "argument '-1' is invalid. Expected a finite number of at least 0",
    ],
    [['replay', '--recording', 'r', '--speed', 'NaN'], "argument 'NaN' is invalid. Expected a finite number"],
    [
      ['replay', '--recording', 'r', '--speed', 'Infinity'],
      "argument 'Infinity' is invalid. Expected a finite number",
    ],
    [['replay', '--recording', 'r', '--speed', ''], "argument '' is invalid. Expected a finite number"],
    [
      ['replay', '--recording', 'r', '--from', 'yesterday'],
      "argument 'yesterday' is invalid. Expected an ISO-8601",
    ],
    [['replay', '--recording', 'r', '--bogus'], "error: unknown option '--bogus'"],
    [['serve', '--port', '70000'], "argument '70000' is invalid. Expected a port from 0 to 65535"],
  ])('%j', async (args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a bad STREAMGATE_URL is a usage error too', async () => {
    const result = await runCli(['data', 'publish', '-d', 'd', '-f', 'f'], { STREAMGATE_URL: 'not a url' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Expected an http(s) URL');
  });

  it('no command at all prints the help on stderr and exits 2', async () => {
    const result = await runCli([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Usage: streamgate [options] [command]');
  });
});

const EVERY_HELPER = {
  seq: '{{seq}}',
  seqFrom: '{{seq 100}}',
  id: '{{uuid}}',
  at: '{{timestamp}}',
  int: '{{randInt -3 3}}',
  float: '{{randFloat 1.5 2.5}}',
  rounded: '{{randFloat 0 100 2}}',
  kind: '{{pick call signal state}}',
  first: '{{firstName}}',
  last: '{{lastName}}',
  name: '{{name}}',
  email: '{{email}}',
  city: '{{city}}',
  text: 'user-{{seq}} in {{city}}',
  '{{pick a b}}-key': 'keys are templates too',
  nested: [{ n: '{{randInt 1 1}}' }, true, null, 4.5],
};

describe('data generate', () => {
  let templatePath: string;
  beforeAll(async () => {
    templatePath = join(dir, 'every-helper.json');
    await writeFile(templatePath, JSON.stringify(EVERY_HELPER, null, 2));
  });

  it('renders every helper, one JSON object per line', async () => {
    const result = await runCli([
      'data',
      'generate',
      '-c',
      '50',
      '-t',
      templatePath,
      '--seed',
      'abc',
      '--start',
      '2026-03-01T12:00:00Z',
      '--step',
      '250ms',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(50);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const ids = new Set<unknown>();
    for (const [index, record] of records.entries()) {
      expect(record.seq).toBe(index + 1);
      expect(record.seqFrom).toBe(100 + index);
      expect(record.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(record.id);
      expect(record.at).toBe(new Date(Date.parse('2026-03-01T12:00:00Z') + index * 250).toISOString());
      expect(Number.isInteger(record.int)).toBe(true);
      expect(record.int).toBeGreaterThanOrEqual(-3);
      expect(record.int).toBeLessThanOrEqual(3);
      expect(record.float).toBeGreaterThanOrEqual(1.5);
      expect(record.float).toBeLessThan(2.5);
      expect(String(record.rounded)).toMatch(/^\d{1,3}(\.\d{1,2})?$/);
      expect(['call', 'signal', 'state']).toContain(record.kind);
      expect(FIRST_NAMES).toContain(record.first);
      expect(LAST_NAMES).toContain(record.last);
      // The names and the email of one record belong to the same made-up person.
      expect(record.name).toBe(`${record.first} ${record.last}`);
      const [local, domain] = String(record.email).split('@');
      expect(local).toBe(`${record.first}.${record.last}`.toLowerCase());
      expect(EMAIL_DOMAINS).toContain(domain);
      expect(CITIES).toContain(record.city);
      expect(record.text).toMatch(new RegExp(`^user-${index + 1} in (${CITIES.join('|')})$`));
      expect(Object.keys(record).filter((key) => key.endsWith('-key'))).toEqual([
        expect.stringMatching(/^[ab]-key$/),
      ]);
      expect(record.nested).toEqual([{ n: 1 }, true, null, 4.5]);
    }
    expect(ids.size).toBe(50);
    // Fifty draws from small ranges cover them: the values are random, not constant.
    expect(new Set(records.map((record) => record.int)).size).toBeGreaterThan(3);
    expect(new Set(records.map((record) => record.kind)).size).toBe(3);
  });

  it('is reproducible with --seed, and differs with another seed or none', async () => {
    const args = ['data', 'generate', '-c', '20', '-t', templatePath];
    const first = await runCli([...args, '--seed', '42']);
    const second = await runCli([...args, '--seed', '42']);
    const other = await runCli([...args, '--seed', '43']);
    const unseeded = [await runCli(args), await runCli(args)];
    expect(first.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(other.stdout).not.toBe(first.stdout);
    expect(unseeded[0]?.stdout).not.toBe(unseeded[1]?.stdout);
    // With --seed and no --start, timestamps start at a fixed instant so the files are equal.
    expect(JSON.parse(first.stdout.split('\n')[0] ?? '').at).toBe('2026-01-01T00:00:00.000Z');
  });

  it('writes the file given by -o, and the example template renders monitor events', async () => {
    const output = join(dir, 'counter.jsonl');
    const result = await runCli([
      'data',
      'generate',
      '-c',
      '5',
      '-t',
      'examples/templates/counter.json',
      '-o',
      output,
      '--seed',
      '1',
    ]);
    expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const events = (await readFile(output, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events).toHaveLength(5);
    expect(events.map((event) => event.data.count)).toEqual([1, 2, 3, 4, 5]);
    expect(events[0]).toMatchObject({
      type: 'state',
      symbol: 'demo.Counter',
      timestamp: '2026-01-01T00:00:00.000Z',
    });
  });

  it.each([
    ['not JSON', '{"a": ', 'is not valid JSON'],
    [
      'an unknown helper',
      '{"a": "{{nope}}"}',
      'at $.a: {{nope}}: unknown helper "nope"; helpers are seq, uuid',
    ],
    [
      'a non-number argument',
      '{"a": ["{{randInt one 5}}"]}',
      'at $.a[0]: {{randInt one 5}}: randInt min must be a number',
    ],
    ['reversed bounds', '{"a": "{{randFloat 5 1}}"}', 'randFloat min 5 is greater than max 1'],
    [
      'missing arguments',
      '{"a": "{{randInt 1}}"}',
      'randInt takes 2 arguments, got 1 (usage: {{randInt <min> <max>}})',
    ],
    ['extra arguments', '{"a": "{{uuid 4}}"}', 'uuid takes 0 arguments, got 1'],
    ['pick without choices', '{"a": "{{pick}}"}', 'pick takes at least 1 argument'],
  ])('a template with %s exits 2 naming the place', async (_name, text, message) => {
    const path = join(dir, 'bad-template.json');
    await writeFile(path, text);
    const result = await runCli(['data', 'generate', '-c', '1', '-t', path]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`template ${path}`);
    expect(result.stderr).toContain(message);
  });

  it('a missing template file is a runtime error (exit 1)', async () => {
    const result = await runCli(['data', 'generate', '-c', '1', '-t', join(dir, 'missing.json')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: cannot read template ${join(dir, 'missing.json')}: no such file\n`);
  });
});

describe('data publish input', () => {
  it.each([
    ['a bad line', '{"data":1}\n{"data":\n', 'line 2 is not valid JSON: Unexpected end of JSON input'],
    ['no events', '\n\n', 'holds no events'],
  ])('a file with %s exits 1 before posting anything', async (_name, text, message) => {
    const file = join(dir, 'bad.jsonl');
    await writeFile(file, text);
    // The server is down too: the file is checked before the first post is attempted.
    const server = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['data', 'publish', '-d', 'd', '-f', file, '--server', server]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: ${file} ${message}\n`);
  });

  it('a missing file exits 1 naming it', async () => {
    const file = join(dir, 'absent.jsonl');
    const result = await runCli(['data', 'publish', '-d', 'd', '-f', file]);
    expect(result).toMatchObject({ code: 1, stderr: `error: cannot read file ${file}: no such file\n` });
  });
});

describe('streamgate status against a running server', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('prints the health over GraphQL, as text and as JSON', async () => {
    const text = await runCli(['status'], { STREAMGATE_URL: server.url });
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${server.url}: OK \\(version \\S+, up \\d+ s\\)\n`));
    expect(text.stdout).toMatch(/^ {2}database: OK [\d.]+ ms$/m);
    expect(text.stdout).toMatch(/^ {2}broker: OK( [\d.]+ ms)?$/m);

    const json = await runCli(['status', '--json', '--server', server.url]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      status: 'OK',
      dependencies: expect.arrayContaining([expect.objectContaining({ name: 'database', status: 'OK' })]),
    });
  });

  it('--server wins over STREAMGATE_URL', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['status', '--server', server.url], { STREAMGATE_URL: down });
    expect(result.code).toBe(0);
  });
});

describe('--token and STREAMGATE_TOKEN against a server with JWT auth', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp({ env: authEnv() });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('sends --token as a bearer token', async () => {
    const token = await signToken({ sub: 'cli-user' });
    const result = await runCli(['status', '--server', server.url, '--token', token]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
  });

  it('reads STREAMGATE_TOKEN, and --token wins over it', async () => {
    const token = await signToken({ sub: 'cli-user' });
    const fromEnv = await runCli(['status'], { STREAMGATE_URL: server.url, STREAMGATE_TOKEN: token });
    expect(fromEnv).toMatchObject({ code: 0, stderr: '' });
    const overridden = await runCli(['status', '--token', 'not-a-jwt'], {
      STREAMGATE_URL: server.url,
      STREAMGATE_TOKEN: token,
    });
    expect(overridden.code).toBe(1);
    expect(overridden.stderr).toMatch(/^error: token is malformed: .* \(UNAUTHENTICATED\)\n$/);
  });

  it("an expired token exits 1 with the server's reason", async () => {
    const token = await signToken({ sub: 'cli-user', expiresIn: -120 });
    const result = await runCli(['status', '--server', server.url, '--token', token]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: token expired at \S+ \(UNAUTHENTICATED\)\n$/);
  });
});

describe('with the server down', () => {
  it('status exits 1 saying the server cannot be reached', async () => {
    const server = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['status'], { STREAMGATE_URL: server });
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toBe(`error: cannot reach streamgate at ${server}: ECONNREFUSED\n`);
  });

  it('a server that is not streamgate exits 1 saying what it answered', async () => {
    const other = createHttpServer((_request, response) => response.writeHead(404).end('<html>nope</html>'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const { port } = other.address() as { port: number };
    try {
      const result = await runCli(['status', '--server', `http://127.0.0.1:${port}`]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        'error: the server answered HTTP 404 with a body that is not JSON: <html>nope</html>\n',
      );
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it.each([
    [['record', 'ls']],
    [['record', 'show', 'rec_1']],
    [['record', 'start', '--device-id', 'd1']],
    [['data', 'tail', '--device-id', 'd1']],
    [['replay', '--recording', 'rec_1']],
  ])('%j exits 1 saying the server cannot be reached', async (args) => {
    const server = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(args, { STREAMGATE_URL: server });
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toBe(`error: cannot reach streamgate at ${server}: ECONNREFUSED\n`);
  });

  it('data publish exits 1 before posting anything', async () => {
    const file = join(dir, 'one.jsonl');
    await writeFile(file, '{"data":{"n":1}}\n');
    const server = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['data', 'publish', '--device-id', 'd', '--file', file, '--server', server]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: cannot reach streamgate at ${server}: ECONNREFUSED\n`);
  });
});

describe('streamgate serve', () => {
  it('starts a server through the npm start path and drains on SIGTERM', async () => {
    const port = await freePort();
    const run = startCli(['serve', '--port', String(port)], { PGLITE_DIR: join(dir, 'serve-db') });
    for (;;) {
      const line = await run.lines.next(60_000, 'the "listening" log line');
      if (line.includes('streamgate is listening')) break;
    }
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ service: 'streamgate', status: 'ok' });
    run.child.kill('SIGTERM');
    const result = await run.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"msg":"stopped"');
  });

  it('exits 2 naming the variable when the environment is invalid', async () => {
    const result = await runCli(['serve'], { BROKER: 'carrier-pigeon', PGLITE_DIR: join(dir, 'bad-db') });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('BROKER="carrier-pigeon" is invalid');
  });
});
