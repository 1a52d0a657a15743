import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/domain/viewer.ts';
import { limitRefusals } from '../../src/metrics.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const reader: Viewer = { userId: 'u1', tenantId: 'tenant-1', roles: [] };

/** docs/limits.md: every refusal is counted, the topic subscriber buffer's included (issue 14, item 12). */
describe('a topic subscriber ended at TOPIC_SUBSCRIBER_BUFFER', () => {
  let server: TestApp;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamgate-topic-buffer-'));
    const file = join(dir, 'topics.yaml');
    await writeFile(file, 'topics:\n  - name: open.v1\n');
    server = await startTestApp({ env: { TOPICS_FILE: file, TOPIC_SUBSCRIBER_BUFFER: '2kb' } });
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const refusals = async () =>
    (await limitRefusals(server.app.services.metrics).get()).values.find(
      (value) => value.labels.limit === 'TOPIC_SUBSCRIBER_BUFFER',
    )?.value ?? 0;

  it('is ended with LIMIT_EXCEEDED and counted once in limit_refusals_total; a reader that keeps up is not', async () => {
    const slow = await server.app.services.topics.subscribe(reader, ['open.v1'], null, null);
    const keepingUp = await server.app.services.topics.subscribe(reader, ['open.v1'], null, null);
    const payload = Buffer.from(JSON.stringify({ padding: 'x'.repeat(500) }));
    // The slow one reads nothing while 20 messages of ~500 bytes (10 KB) arrive; the other reads each.
    for (let index = 0; index < 20; index += 1) {
      await server.app.services.broker.publish('topic.open.v1', payload);
      const next = await keepingUp.next();
      expect(next.done).toBe(false);
      expect(next.value.kind).toBe('message');
    }
    const kinds: string[] = [];
    for (;;) {
      const next = await slow.next();
      if (next.done) break;
      kinds.push(next.value.kind);
      if (next.value.kind === 'failure') {
        expect(next.value.error).toMatchObject({ code: 'LIMIT_EXCEEDED' });
        expect(next.value.error.message).toContain('bytes behind and was ended');
      }
    }
    expect(kinds.at(-1)).toBe('failure');
    expect(kinds.filter((kind) => kind === 'failure')).toHaveLength(1);
    expect(await refusals()).toBe(1);
    await keepingUp.return?.();
  });
});
