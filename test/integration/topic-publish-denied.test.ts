/**
 * Publishing to a topic whose broker subject the NATS user may not publish on (a nats-server of
 * this file's own whose default user is denied `topic.ticks.denied`): POST
 * /topics/{topic}/messages and the publish mutation are refused at once as FORBIDDEN, naming the
 * subject and the permission, as the broker's other refusals for good are answered. Before, the
 * batched publish heard nothing of the server's permission violation: it waited for JetStream
 * acks that never came (10 s: the broken chain sent again) and answered 503 UNAVAILABLE, as if
 * the broker were down. The allowed topic next to it is published and delivered.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerMessage } from '../../src/pubsub/broker.ts';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { natsConfigDenying } from '../helpers/nats-permissions.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';
import { type PrivateService, startService } from '../setup/services.ts';

const DENIED = 'ticks.denied';
const ALLOWED = 'ticks.ok';
const REFUSAL = `the broker does not permit publishing on "topic.${DENIED}": Permissions Violation for Publish to "topic.${DENIED}"`;

describe('topic publish on a subject NATS does not permit (own NATS with permissions)', () => {
  let nats: PrivateService;
  let server: TestApp;
  let dir: string;
  let publisher: string;
  beforeAll(async () => {
    nats = await startService('nats', { config: natsConfigDenying([`topic.${DENIED}`]) });
    dir = await mkdtemp(join(tmpdir(), 'streamgate-publish-denied-'));
    const file = join(dir, 'topics.yaml');
    await writeFile(file, ['topics:', `  - name: ${DENIED}`, `  - name: ${ALLOWED}`].join('\n'));
    server = await startTestApp({ env: authEnv({ TOPICS_FILE: file, BROKER: 'nats', NATS_URL: nats.url }) });
    publisher = await signToken({ roles: ['publisher'] });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function watch(topic: string) {
    const seen = new AsyncQueue<BrokerMessage>();
    const subscription = server.app.services.broker.subscribe(`topic.${topic}`);
    void (async () => {
      for await (const message of subscription) seen.push(message);
    })();
    return { seen, ready: subscription.ready, stop: () => subscription.unsubscribe() };
  }
  const data = (message: BrokerMessage) => JSON.parse(Buffer.from(message.payload).toString('utf8'));

  const post = async (topic: string, messages: unknown[]) => {
    const response = await fetch(`${server.url}/topics/${topic}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${publisher}` },
      body: JSON.stringify(messages),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('POST /topics/{topic}/messages: 403 FORBIDDEN naming the subject and the permission; the allowed topic is published', async () => {
    const refused = await post(DENIED, [{ n: 1 }, { n: 2 }]);
    expect(refused).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
    expect(String(refused.body.message)).toContain(REFUSAL);

    const watcher = watch(ALLOWED);
    try {
      await watcher.ready;
      expect(await post(ALLOWED, [{ n: 1 }, { n: 2 }])).toMatchObject({ status: 200, body: { accepted: 2 } });
      expect((await watcher.seen.take(2, 5_000, 'the allowed messages')).map(data)).toEqual([
        { n: 1 },
        { n: 2 },
      ]);
    } finally {
      watcher.stop();
    }
  });

  it('the publish mutation: FORBIDDEN with the same words; the allowed topic answers accepted', async () => {
    const mutation = 'mutation($t: String!) { publish(topic: $t, data: { p: 1 }) { accepted } }';
    const refused = await server.graphql(mutation, { t: DENIED }, { token: publisher });
    expect(refused.data).toBeNull();
    expect(refused.errors?.map((error) => [error.message, error.extensions?.code])).toEqual([
      [REFUSAL, 'FORBIDDEN'],
    ]);
    const taken = await server.graphql(mutation, { t: ALLOWED }, { token: publisher });
    expect(taken).toEqual({ data: { publish: { accepted: 1 } } });
  });
});
