import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProcessRunner,
  freePort,
  type StreamgateProcess,
  waitForListening,
} from '../helpers/streamgate-process.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';
import { createTestDatabase } from '../setup/services.ts';

interface LogLine {
  level: number;
  msg: string;
  code?: string;
}

const processes = createProcessRunner();
let server: StreamgateProcess;
let port = 0;
let token = '';

beforeAll(async () => {
  port = await freePort();
  server = processes.start({ ...authEnv(), DATABASE_URL: await createTestDatabase(), PORT: String(port) });
  await waitForListening(server.lines);
  token = await signToken({ roles: ['admin', 'writer'] });
});
afterAll(() => processes.cleanup());

async function post(
  query: string,
  authorization?: string,
): Promise<{ errors?: { message: string; extensions: { code: string } }[] }> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { errors?: { message: string; extensions: { code: string } }[] };
}

/** The process's JSON log lines whose message is `message`, once it has written the first. */
async function logLinesAbout(message: string): Promise<LogLine[]> {
  const parse = () =>
    server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.msg === message);
  await expect.poll(() => parse().length, { timeout: 10_000 }).toBeGreaterThan(0);
  // A second copy, as yoga used to write, would follow at once: let a ping go through first.
  await fetch(`http://127.0.0.1:${port}/livez`);
  return parse();
}

// A client's mistake is logged once, at info or warn with its code; error is the server's own faults.
describe('log levels of client mistakes (real process)', { timeout: 120_000 }, () => {
  it.each([
    ['a bad token', '{ health { status } }', 'Bearer not-a-jwt', 'UNAUTHENTICATED', 40],
    [
      'an anonymous query and subscription in one document',
      '{ health { status } } subscription { serverTime }',
      'token',
      'BAD_USER_INPUT',
      30,
    ],
    ['a field that does not exist', '{ nope }', 'token', 'GRAPHQL_VALIDATION_FAILED', 30],
    [
      'an unknown state',
      '{ stateEntries(stateId: "missing-state") { totalCount } }',
      'token',
      'NOT_FOUND',
      30,
    ],
  ])('%s', async (_, query, auth, code, level) => {
    const { errors } = await post(query, auth === 'token' ? `Bearer ${token}` : auth);
    const message = errors?.[0]?.message ?? '';
    expect(message).not.toBe('');
    const lines = await logLinesAbout(message);
    expect(lines).toEqual([expect.objectContaining({ level, code, msg: message })]);
  });

  it('"already exists"', async () => {
    const create = 'mutation { createState(input: { id: "twice" }) { id } }';
    expect((await post(create, `Bearer ${token}`)).errors).toBeUndefined();
    const { errors } = await post(create, `Bearer ${token}`);
    expect(errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    const lines = await logLinesAbout(errors?.[0]?.message ?? '');
    expect(lines).toEqual([expect.objectContaining({ level: 30, code: 'BAD_USER_INPUT' })]);
  });

  it('none of them is logged as an error', () => {
    expect(server.output()).not.toContain('"level":50');
  });
});
