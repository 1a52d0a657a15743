/**
 * The sync store across a broker crash (issue #14, item 2; docs/pubsub.md "A broker restart, as
 * a client sees it"): its subscription to SYNC_STORE_SUBJECT is core NATS (no window), so what a
 * producer publishes while NATS is down is refused to that producer, and what is published once
 * the sync store is subscribed again is stored, as before the crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { type PrivateService, startService } from '../setup/services.ts';

const SUBJECT = 'processor.state.sync-crash';
const ENTRIES = `query($stateId: ID!) { stateEntries(stateId: $stateId, first: 10) { edges { node { data } } } }`;

interface EntriesData {
  stateEntries: { edges: Array<{ node: { data: Record<string, unknown> } }> };
}

describe('the sync store: NATS killed (SIGKILL) and restarted', { timeout: 180_000 }, () => {
  let nats: PrivateService;
  let app: TestApp;

  beforeAll(async () => {
    nats = await startService('nats');
    app = await startTestApp({
      env: {
        BROKER: 'nats',
        NATS_URL: nats.url,
        SYNC_STORE_SUBJECT: SUBJECT,
        BROKER_RECONNECT_MAX_WAIT: '200ms',
      },
    });
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await nats?.stop();
  });

  const stored = async (stateId: string) =>
    (await app.graphql<EntriesData>(ENTRIES, { stateId })).data?.stateEntries.edges.map(
      (edge) => edge.node.data,
    ) ?? [];
  /** What another ISM processor sends: one entry `{ n }` for the state. */
  const publish = (stateId: string, n: number) =>
    app.app.services.broker.publish(
      SUBJECT,
      new TextEncoder().encode(
        JSON.stringify({ type: 'query_state_direct', state_id: stateId, query_state: [{ n }] }),
      ),
    );

  it('stores what is published before the crash, and again what is published once it is back', async () => {
    await publish('sync-crash-before', 1);
    await waitUntil(async () => (await stored('sync-crash-before')).length === 1, 10_000, 'the entry before');
    expect(await stored('sync-crash-before')).toEqual([{ n: 1 }]);

    await nats.crash();
    // Each attempt goes to a state of its own: one published before the subscription is back is
    // not stored (core NATS keeps nothing for it), one published after it is.
    let attempt = 0;
    let storedState: string | undefined;
    await waitUntil(
      async () => {
        attempt += 1;
        const stateId = `sync-crash-after-${attempt}`;
        const accepted = await publish(stateId, attempt).then(
          () => true,
          () => false,
        );
        if (!accepted) return false;
        const entries = await waitUntil(
          async () => (await stored(stateId)).length === 1,
          1_000,
          'stored',
        ).then(
          () => true,
          () => false,
        );
        if (entries) storedState = stateId;
        return entries;
      },
      60_000,
      'an entry published after the restart to be stored',
    );
    expect(await stored(storedState as string)).toEqual([{ n: attempt }]);
    // And the next one too, at once.
    await publish('sync-crash-next', 99);
    await waitUntil(async () => (await stored('sync-crash-next')).length === 1, 10_000, 'the next entry');
    expect(await stored('sync-crash-next')).toEqual([{ n: 99 }]);
  });
});
