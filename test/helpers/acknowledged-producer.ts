import { setTimeout as sleep } from 'node:timers/promises';

/** What a crash suite's producer knows: the numbers acknowledged, how many sends were refused. */
export interface AcknowledgedProducer {
  readonly acknowledged: number[];
  refusedCount(): number;
  /** Ends the loop after the send under way. */
  stop(): Promise<void>;
}

/**
 * Sends numbered messages one after the other until stopped, for the suites that crash a server
 * under load. `send(n)` sends the n-th message (or batch) and returns the numbers it got
 * acknowledged; a send that throws was refused (the server is down, the connection was cut):
 * nothing of it is acknowledged, so nobody may count on it, and the loop waits `pauseMs` so it
 * does not spin while the server is away.
 */
export function startAcknowledgedProducer(
  send: (n: number) => Promise<readonly number[]>,
  pauseMs: number,
): AcknowledgedProducer {
  const acknowledged: number[] = [];
  let refused = 0;
  let running = true;
  const done = (async () => {
    for (let n = 0; running; n++) {
      try {
        acknowledged.push(...(await send(n)));
      } catch {
        refused += 1;
        await sleep(pauseMs);
      }
    }
  })();
  return {
    acknowledged,
    refusedCount: () => refused,
    async stop() {
      running = false;
      await done;
    },
  };
}
