/**
 * The batch form of `publish`: the publishMessages mutation and POST /topics/{topic}/messages
 * (JSON array or NDJSON), good and bad input, with auth on.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerMessage } from '../../src/pubsub/broker.ts';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';

describe('batched topic publish', () => {
  let server: TestApp;
  let dir: string;
  let publisher: string;
  let reader: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamgate-publish-batch-'));
    const file = join(dir, 'topics.yaml');
    await writeFile(file, ['topics:', '  - name: ticks.v1', '  - name: other.v1'].join('\n'));
    server = await startTestApp({ env: authEnv({ TOPICS_FILE: file, MAX_PAYLOAD_BYTES: '4kb' }) });
    publisher = await signToken({ roles: ['publisher'] });
    reader = await signToken({ roles: [] });
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function watch(topic: string) {
    const seen = new AsyncQueue<BrokerMessage>();
    const subscription = server.app.services.broker.subscribe(`topic.${topic}`);
    void (async () => {
      for await (const message of subscription) seen.push(message);
    })();
    return { seen, stop: () => subscription.unsubscribe() };
  }

  const data = (message: BrokerMessage) => JSON.parse(Buffer.from(message.payload).toString('utf8'));

  async function post(path: string, body: string, options: { token?: string; contentType?: string } = {}) {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': options.contentType ?? 'application/json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('POST /topics/{topic}/messages publishes a JSON array in order, with ?key= on each', async () => {
    const watcher = watch('ticks.v1');
    const messages = [{ n: 1 }, { n: 2 }, 'three', 4];
    const answer = await post('/topics/ticks.v1/messages?key=k1', JSON.stringify(messages), {
      token: publisher,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ accepted: 4 });
    const seen = await watcher.seen.take(4, 5_000, 'published messages');
    watcher.stop();
    expect(seen.map(data)).toEqual(messages);
    expect(seen.map((message) => message.headers['X-Topic-Key'])).toEqual(['k1', 'k1', 'k1', 'k1']);
  });

  it('accepts NDJSON, one message per line, blank lines skipped', async () => {
    const watcher = watch('ticks.v1');
    const answer = await post('/topics/ticks.v1/messages', '{"n":1}\n\n{"n":2}\n', {
      token: publisher,
      contentType: 'application/x-ndjson',
    });
    expect(answer).toMatchObject({ status: 200, body: { accepted: 2 } });
    expect((await watcher.seen.take(2, 5_000, 'published messages')).map(data)).toEqual([{ n: 1 }, { n: 2 }]);
    watcher.stop();
  });

  it('publishMessages: the GraphQL form', async () => {
    const watcher = watch('other.v1');
    const result = await server.graphql<{ publishMessages: { accepted: number } }>(
      'mutation($m: [JSON!]!) { publishMessages(topic: "other.v1", messages: $m) { accepted } }',
      { m: [{ a: 1 }, { a: 2 }] },
      { token: publisher },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.publishMessages.accepted).toBe(2);
    expect((await watcher.seen.take(2, 5_000, 'published messages')).map(data)).toEqual([{ a: 1 }, { a: 2 }]);
    watcher.stop();
  });

  it('an empty batch accepts nothing', async () => {
    expect(await post('/topics/ticks.v1/messages', '[]', { token: publisher })).toMatchObject({
      status: 200,
      body: { accepted: 0, position: null },
    });
  });

  describe('bad input: clear errors, nothing published', () => {
    it.each([
      ['not JSON', '[{"n":1}', 'application/json', 400, 'BAD_USER_INPUT', /not valid JSON/],
      [
        'not an array',
        '{"n":1}',
        'application/json',
        400,
        'BAD_USER_INPUT',
        /JSON array of messages, got an object/,
      ],
      ['an empty body', '', 'application/json', 400, 'BAD_USER_INPUT', /body is empty/],
      ['a bad NDJSON line', '{"n":1}\n{nope}\n', 'application/x-ndjson', 400, 'BAD_USER_INPUT', /line 2/],
    ])('%s', async (_name, body, contentType, status, code, message) => {
      const watcher = watch('ticks.v1');
      const answer = await post('/topics/ticks.v1/messages', body, { token: publisher, contentType });
      expect(answer.status).toBe(status);
      expect(answer.body.error).toBe(code);
      expect(answer.body.message).toMatch(message);
      // A good batch afterwards is the first thing the topic sees.
      await post('/topics/ticks.v1/messages', '[{"after":true}]', { token: publisher });
      expect(data((await watcher.seen.take(1, 5_000, 'the next batch'))[0] as BrokerMessage)).toEqual({
        after: true,
      });
      watcher.stop();
    });

    it('a message over MAX_PAYLOAD_BYTES is PAYLOAD_TOO_LARGE naming its index, and none of the batch is sent', async () => {
      const watcher = watch('ticks.v1');
      // Over HTTP the body limit (the same size) answers first; the domain checks every message
      // before sending any, for callers inside the process (the legacy adapters).
      const viewer = { userId: 'p', tenantId: 'tenant-a', roles: ['publisher'] };
      await expect(
        server.app.services.topics.publishMany(
          viewer,
          'ticks.v1',
          [{ n: 1 }, { blob: 'x'.repeat(5_000) }],
          null,
        ),
      ).rejects.toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
        message: expect.stringMatching(/^message 1 is \d+ bytes/),
      });
      const raw = JSON.stringify([{ n: 1 }, { blob: 'y'.repeat(5_000) }]);
      expect(await post('/topics/ticks.v1/messages', raw, { token: publisher })).toMatchObject({
        status: 413,
        body: { error: 'PAYLOAD_TOO_LARGE' },
      });
      await post('/topics/ticks.v1/messages', '[{"after":true}]', { token: publisher });
      expect(data((await watcher.seen.take(1, 5_000, 'the next batch'))[0] as BrokerMessage)).toEqual({
        after: true,
      });
      watcher.stop();
    });

    it('no token 401, no publisher role 403, unknown topic 404', async () => {
      expect((await post('/topics/ticks.v1/messages', '[1]')).status).toBe(401);
      expect(await post('/topics/ticks.v1/messages', '[1]', { token: reader })).toMatchObject({
        status: 403,
        body: { error: 'FORBIDDEN' },
      });
      expect(await post('/topics/nope.v1/messages', '[1]', { token: publisher })).toMatchObject({
        status: 404,
        body: { error: 'NOT_FOUND' },
      });
    });
  });
});
