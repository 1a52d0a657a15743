import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { createProcessRunner, freePort, waitForListening } from '../helpers/streamgate-process.ts';

const processes = createProcessRunner();
afterAll(() => processes.cleanup());
const startProcess = (env: Record<string, string>) => processes.start(env);

// Each test starts real processes (tsx compiles at start-up): generous time under a loaded CI machine.
describe('the streamgate process', { timeout: 120_000 }, () => {
  it('exits 2 naming PORT when PORT is not a number', async () => {
    const run = startProcess({ PORT: 'abc' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('PORT="abc" is invalid: expected an integer from 0 to 65535');
  });

  it('on SIGTERM completes open subscriptions, closes graphql-ws with 1001 and exits 0', async () => {
    const dir = await processes.tempDir('streamgate-process-');
    const port = await freePort();
    const run = startProcess({ PORT: String(port), PGLITE_DIR: join(dir, 'db') });
    await waitForListening(run.lines);

    const { client, closes } = connectWs(`ws://127.0.0.1:${port}/graphql`);
    const subscription = subscribeWs(client, 'subscription { serverTime(every: "100ms") }');
    await subscription.results.next(10_000, 'a first tick');

    const signalledAt = Date.now();
    run.child.kill('SIGTERM');
    await subscription.done; // the server completed the subscription
    const close = await closes.next(10_000, 'the socket to close');
    expect(close.code).toBe(1001);
    expect(await run.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    await client.dispose();
  });

  it('keeps the PGlite data across a restart', async () => {
    const dir = await processes.tempDir('streamgate-process-');
    const env = { PGLITE_DIR: join(dir, 'db') };

    const first = startProcess({ ...env, PORT: String(await freePort()) });
    await waitForListening(first.lines);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    // The second start finds the migrations applied and the files it left; it must not fail.
    const second = startProcess({ ...env, PORT: String(await freePort()) });
    await waitForListening(second.lines);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.output()).not.toContain('"level":50');
  });
});
