import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopicDelivery, TopicMessage } from '../../src/domain/topics/topic-message.ts';
import type { Viewer } from '../../src/domain/viewer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const trader: Viewer = { userId: 'u1', tenantId: 'tenant-1', roles: ['market_data', 'publisher'] };
const outsider: Viewer = { userId: 'u2', tenantId: 'tenant-2', roles: ['market_data', 'publisher'] };
const noRoles: Viewer = { userId: 'u3', tenantId: 'tenant-1', roles: [] };

async function nextMessage(stream: AsyncIterator<TopicDelivery>, timeoutMs = 5_000): Promise<TopicMessage> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    stream.next(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  if (result.done) throw new Error('the stream ended');
  if (result.value.kind === 'failure') throw result.value.error;
  return result.value.message;
}

describe('topics over the broker (domain service, memory broker)', () => {
  let server: TestApp;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamgate-topics-'));
    const file = join(dir, 'topics.yaml');
    await writeFile(
      file,
      [
        'topics:',
        '  - name: alerts.v1',
        '    requiredRoles: [market_data]',
        '  - name: tenant.only.v1',
        '    tenants: [tenant-1]',
        '  - name: open.v1',
      ].join('\n'),
    );
    server = await startTestApp({ env: { TOPICS_FILE: file } });
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const topics = () => server.app.services.topics;

  it('lists only what the caller is entitled to', async () => {
    expect((await topics().list(trader)).map((topic) => topic.name)).toEqual([
      'alerts.v1',
      'open.v1',
      'tenant.only.v1',
    ]);
    expect((await topics().list(outsider)).map((topic) => topic.name)).toEqual(['alerts.v1', 'open.v1']);
    expect((await topics().list(noRoles)).map((topic) => topic.name)).toEqual(['open.v1', 'tenant.only.v1']);
    expect(await topics().list(null)).toEqual([]);
    expect(await topics().get(outsider, 'tenant.only.v1')).toBeNull();
  });

  it('refuses before anything flows: denied role, other tenant, unknown topic, bad name', async () => {
    await expect(topics().subscribe(noRoles, ['open.v1', 'alerts.v1'], null, null)).rejects.toMatchObject({
      code: 'SUBSCRIPTION_DENIED',
      message: 'subscribing to topic "alerts.v1" needs one of the roles market_data',
    });
    await expect(topics().subscribe(outsider, ['tenant.only.v1'], null, null)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(topics().subscribe(trader, ['no.such.topic'], null, null)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(topics().subscribe(trader, ['bad topic'], null, null)).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { reason: 'INVALID_TOPIC_FORMAT' },
    });
    await expect(topics().subscribe(null, ['open.v1'], null, null)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect(topics().activeSubscriptions('open.v1')).toBe(0);
  });

  it('delivers filtered messages, counts active subscriptions live, and resumes after a position', async () => {
    const all = await topics().subscribe(trader, ['alerts.v1'], null, null);
    const oil = await topics().subscribe(trader, ['alerts.v1'], { equals: { 'asset.class': 'oil' } }, null);
    expect(topics().activeSubscriptions('alerts.v1')).toBe(2);

    await topics().publish(trader, 'alerts.v1', { asset: { class: 'gas' }, n: 1 }, 'k1');
    await topics().publish(trader, 'alerts.v1', { asset: { class: 'oil' }, n: 2 }, null);
    const first = await nextMessage(all);
    expect(first).toMatchObject({ topic: 'alerts.v1', key: 'k1', data: { n: 1 }, partition: null });
    const second = await nextMessage(all);
    expect(second.data).toEqual({ asset: { class: 'oil' }, n: 2 });
    expect((await nextMessage(oil)).data).toEqual({ asset: { class: 'oil' }, n: 2 });

    await all.return?.();
    expect(topics().activeSubscriptions('alerts.v1')).toBe(1);

    for (let n = 3; n <= 5; n++)
      await topics().publish(trader, 'alerts.v1', { asset: { class: 'gas' }, n }, null);
    const resumed = await topics().subscribe(trader, ['alerts.v1'], null, first.position);
    const replayed = [
      await nextMessage(resumed),
      await nextMessage(resumed),
      await nextMessage(resumed),
      await nextMessage(resumed),
    ];
    expect(replayed.map((message) => (message.data as { n: number }).n)).toEqual([2, 3, 4, 5]);
    await topics().publish(trader, 'alerts.v1', { n: 6 }, null);
    expect((await nextMessage(resumed)).data).toEqual({ n: 6 });
    await resumed.return?.();
    await oil.return?.();
    expect(topics().activeSubscriptions('alerts.v1')).toBe(0);
  });

  it('delivers a value that is not JSON as a string', async () => {
    const stream = await topics().subscribe(trader, ['open.v1'], null, null);
    await server.app.services.broker.publish('topic.open.v1', Buffer.from('plain text, not JSON'));
    expect((await nextMessage(stream)).data).toBe('plain text, not JSON');
    await stream.return?.();
  });

  it('checks the publisher role', async () => {
    await expect(topics().publish(noRoles, 'open.v1', { a: 1 }, null)).rejects.toMatchObject({
      code: 'FORBIDDEN',
      message: 'publishing to topic "open.v1" needs one of the roles publisher',
    });
  });
});
