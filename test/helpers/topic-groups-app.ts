import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Viewer } from '../../src/domain/viewer.ts';
import { waitUntil } from './async-queue.ts';
import { startTestApp, type TestApp } from './test-app.ts';
import { authEnv } from './tokens.ts';

/** Who publishes in the subscription-group tests (the topics service, in process). */
const publisher: Viewer = { userId: 'feeder', tenantId: null, roles: ['publisher'] };

/**
 * The stage of the subscription-group tests on every transport: a JWT-mode app with the topics
 * `<prefix>.open` (anyone) and `<prefix>.gold` (role gold) and a 256 kB MAX_CLIENT_BUFFER, so a
 * member that stops reading is cut soon. Call it in a describe block: it starts the app before
 * the block's tests and stops it after them.
 */
export function useTopicGroupsApp(prefix: string) {
  let server: TestApp | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `streamgate-${prefix}-groups-`));
    const file = join(dir, 'topics.yaml');
    await writeFile(
      file,
      ['topics:', `  - name: ${prefix}.open`, `  - name: ${prefix}.gold`, '    requiredRoles: [gold]'].join(
        '\n',
      ),
    );
    server = await startTestApp({ env: authEnv({ TOPICS_FILE: file, MAX_CLIENT_BUFFER: '256kb' }) });
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const started = (): TestApp => {
    if (!server) throw new Error('the topic-groups app is not started yet (use it inside a test)');
    return server;
  };
  return {
    get server(): TestApp {
      return started();
    },
    /** Publishes `data` to `topic` as the feeder. */
    publish: (topic: string, data: unknown) =>
      started().app.services.topics.publish(publisher, topic, data, null),
    /** Waits until `topic` counts `count` subscribers (every member of every group). */
    activeOn: (topic: string, count: number) =>
      waitUntil(
        () => started().app.services.topics.activeSubscriptions(topic) === count,
        5_000,
        `${count} subscriptions on ${topic}`,
      ),
  };
}
