/**
 * docs/limits.md: every refusal of a limit is counted in limit_refusals_total under its variable —
 * here the state limits (STATE_MAX_ENTRIES, STATE_MAX_ENTRY_BYTES, STATE_MAX_MESSAGE_BYTES), read
 * from /metrics as an operator would: a publish within them is accepted and not counted, one over
 * a limit is refused, writes nothing and is counted once, whether it came over GraphQL or from
 * the network through the sync store (a batch refused for one message counts it once).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { syncMessagesHandled } from '../helpers/ism-network.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const PUBLISH = `mutation Publish($stateId: ID!, $entries: [JSONObject!]!) {
  publishStateEntries(stateId: $stateId, entries: $entries) { accepted }
}`;
const COUNT = 'query($stateId: ID!) { stateEntries(stateId: $stateId, first: 1) { totalCount } }';
const SYNC_SUBJECT = 'processor.state.sync-limits';
const LIMITS = ['STATE_MAX_ENTRIES', 'STATE_MAX_ENTRY_BYTES', 'STATE_MAX_MESSAGE_BYTES'] as const;

describe('state limits: refusals counted in limit_refusals_total', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp({
      env: {
        STATE_MAX_ENTRIES: '5',
        STATE_MAX_ENTRY_BYTES: '1kb',
        STATE_MAX_MESSAGE_BYTES: '2kb',
        SYNC_STORE_SUBJECT: SYNC_SUBJECT,
      },
    });
  });
  afterAll(() => server?.stop());

  /** limit_refusals_total of each state limit, as /metrics shows it (absent: 0). */
  const refusals = async (): Promise<Record<string, number>> => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return Object.fromEntries(
      LIMITS.map((limit) => {
        const match = new RegExp(`^limit_refusals_total\\{limit="${limit}"\\} (\\d+)`, 'm').exec(text);
        return [limit, match ? Number(match[1]) : 0];
      }),
    );
  };
  const stored = async (stateId: string) =>
    (await server.graphql<{ stateEntries: { totalCount: number } }>(COUNT, { stateId })).data?.stateEntries
      .totalCount ?? 0;
  /** Entries of about `bytes` bytes of JSON each. */
  const entries = (count: number, bytes: number) =>
    Array.from({ length: count }, (_, n) => ({ n, pad: 'x'.repeat(bytes) }));

  it.each([
    // 3 entries of 500 bytes: each within 1 KiB, the message about 1.6 KB, within 2 KiB.
    {
      limit: 'STATE_MAX_MESSAGE_BYTES',
      good: entries(3, 500),
      bad: entries(4, 900),
      code: 'PAYLOAD_TOO_LARGE',
    },
    {
      limit: 'STATE_MAX_ENTRY_BYTES',
      good: entries(1, 900),
      bad: entries(1, 1_100),
      code: 'PAYLOAD_TOO_LARGE',
    },
    { limit: 'STATE_MAX_ENTRIES', good: entries(5, 10), bad: entries(6, 10), code: 'LIMIT_EXCEEDED' },
  ])(
    'publishStateEntries over $limit is refused ($code) and counted once; within it, accepted and not counted',
    async ({ limit, good, bad, code }) => {
      const before = await refusals();
      const accepted = await server.graphql(PUBLISH, { stateId: `ok-${limit}`, entries: good });
      expect(accepted).toEqual({ data: { publishStateEntries: { accepted: good.length } } });
      expect(await refusals()).toEqual(before);

      const refused = await server.graphql(PUBLISH, { stateId: `ok-${limit}`, entries: bad });
      expect(refused.errors?.[0]?.extensions?.code).toBe(code);
      expect(refused.errors?.[0]?.message).toContain(limit);
      expect(await stored(`ok-${limit}`)).toBe(good.length);
      expect(await refusals()).toEqual({ ...before, [limit]: (before[limit] ?? 0) + 1 });
    },
  );

  it('a sync-store message over STATE_MAX_MESSAGE_BYTES is rejected and counted once; the one beside it is stored', async () => {
    const sync = server.app.services.syncStore;
    const before = await refusals();
    const statsBefore = sync.stats();
    const message = (stateId: string, query_state: unknown[]) =>
      new TextEncoder().encode(
        JSON.stringify({ type: 'query_state_direct', state_id: stateId, query_state }),
      );
    // Published together, so the writer may take them as one batch: the refused one must not
    // be counted again when the batch falls back to one message at a time.
    await Promise.all([
      server.app.services.broker.publish(SYNC_SUBJECT, message('sync-big', entries(4, 900))),
      server.app.services.broker.publish(SYNC_SUBJECT, message('sync-small', entries(2, 100))),
    ]);
    await waitUntil(
      () => syncMessagesHandled(sync.stats()) - syncMessagesHandled(statsBefore) === 2,
      10_000,
      'the sync store to take both messages',
    );
    expect(sync.stats().rejected.too_large).toBe((statsBefore.rejected.too_large ?? 0) + 1);
    expect(await stored('sync-small')).toBe(2);
    expect(await refusals()).toEqual({
      ...before,
      STATE_MAX_MESSAGE_BYTES: (before.STATE_MAX_MESSAGE_BYTES ?? 0) + 1,
    });
  });
});
