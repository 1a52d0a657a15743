import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitRefusals } from '../../src/metrics.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { connectRaw, type RawWsClient } from '../helpers/raw-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';

/** Legacy /ws/stream/{state} sockets take connection slots as graphql-ws does (issue 14). */
describe('ISM /ws/stream/{state} connection slots', () => {
  let server: TestApp;
  let alice: string;
  beforeAll(async () => {
    server = await startTestApp({ env: authEnv({ MAX_CONNECTIONS_PER_USER: '2' }) });
    alice = await signToken({ sub: 'alice', roles: ['writer'] });
    const created = await server.graphql(
      'mutation { createState(input: { id: "slots" }) { id } }',
      {},
      { token: alice },
    );
    expect(created.errors).toBeUndefined();
  });
  afterAll(async () => {
    await server.stop();
  });

  const open = () => connectRaw(`${server.url.replace(/^http/, 'ws')}/ws/stream/slots?token=${alice}`);
  const slots = () => server.app.services.connectionLimiter.count({ userId: 'alice', tenantId: 'tenant-a' });
  const refused = async () =>
    (await limitRefusals(server.app.services.metrics).get()).values.find(
      (value) => value.labels.limit === 'MAX_CONNECTIONS_PER_USER',
    )?.value ?? 0;

  it('past MAX_CONNECTIONS_PER_USER one user is refused with 4429; a closed socket frees its slot', async () => {
    const first: RawWsClient = await open();
    const second: RawWsClient = await open();
    await waitUntil(() => slots() === 2, 5_000, 'two slots taken');

    const third = await open();
    const close = await third.closes.next(5_000, 'the refusal');
    expect(close).toEqual({ code: 4429, reason: 'user has the maximum of 2 open connections' });
    expect(await refused()).toBe(1);
    expect(slots()).toBe(2);

    await first.close();
    await waitUntil(() => slots() === 1, 5_000, 'the slot released');
    const again = await open();
    await waitUntil(() => slots() === 2, 5_000, 'the slot taken again');
    expect(again.closes.pending).toEqual([]);
    await Promise.all([second.close(), again.close()]);
    await waitUntil(() => slots() === 0, 5_000, 'every slot released');
  });

  it('a /ws/ds provider socket past the limit gets an error frame and 4429', async () => {
    const ds = (id: string) => connectRaw(`${server.url.replace(/^http/, 'ws')}/ws/ds/${id}?token=${alice}`);
    const first = await ds('slots-a');
    const second = await ds('slots-b');
    await waitUntil(() => slots() === 2, 5_000, 'two slots taken');
    const third = await ds('slots-c');
    expect(await third.nextJson()).toMatchObject({ type: 'error', error: 'LIMIT_EXCEEDED' });
    expect((await third.closes.next(5_000, 'the refusal')).code).toBe(4429);
    await Promise.all([first.close(), second.close()]);
    await waitUntil(() => slots() === 0, 5_000, 'every slot released');
  });
});
