import type { Broker, MessageToPublish, PublishOutcome } from '../../src/pubsub/broker.ts';
import { BrokerUnavailableError, isPermanentRefusal, PublishHeldError } from '../../src/pubsub/errors.ts';

/**
 * A real broker whose publishes can be made to fail from the n-th one on: the only way to put a
 * broker failure exactly in the middle of one ingest batch. Everything else passes through.
 * A batch (`publishMany`) keeps the promise of Broker.publishMany, as the backends do: after a
 * message failed for now, the later messages of its subject in the batch are rejected as held
 * (PublishHeldError), never published ahead of it; what is not failed goes to the real broker's
 * `publishMany`, as one batch.
 */
export interface FaultyBroker extends Broker {
  /** Lets `okCount` more publishes through, then fails every publish until `heal()`. */
  failAfter(okCount: number): void;
  /** Fails every publish whose payload text contains `marker`, with `error()`, until `heal()`. */
  failMatching(marker: string, error: () => Error): void;
  heal(): void;
}

export function withPublishFaults(broker: Broker): FaultyBroker {
  let remaining: number | undefined;
  let matching: { marker: string; error: () => Error } | undefined;
  /** The failure injected into this publish, if any (counts it against `failAfter`). */
  const injected = (payload: Uint8Array): Error | undefined => {
    if (matching && Buffer.from(payload).toString('utf8').includes(matching.marker)) return matching.error();
    if (remaining === undefined) return undefined;
    if (remaining === 0) return new BrokerUnavailableError('injected publish failure');
    remaining -= 1;
    return undefined;
  };
  const publish: Broker['publish'] = (...args) => {
    const error = injected(args[1]);
    return error === undefined ? broker.publish(...args) : Promise.reject(error);
  };
  return Object.assign(Object.create(broker) as Broker, {
    kind: broker.kind,
    publish,
    async publishMany(messages: readonly MessageToPublish[]): Promise<PublishOutcome[]> {
      const outcomes: PublishOutcome[] = new Array(messages.length);
      const held = new Map<string, unknown>();
      const passed: number[] = [];
      messages.forEach((message, index) => {
        const earlier = held.get(message.subject);
        const error = earlier === undefined ? injected(message.payload) : undefined;
        if (earlier !== undefined) {
          outcomes[index] = { status: 'rejected', reason: new PublishHeldError(message.subject, earlier) };
        } else if (error !== undefined) {
          outcomes[index] = { status: 'rejected', reason: error };
          if (!isPermanentRefusal(error)) held.set(message.subject, error);
        } else passed.push(index);
      });
      const taken =
        passed.length === 0
          ? []
          : await broker.publishMany(passed.map((index) => messages[index] as MessageToPublish));
      passed.forEach((index, slot) => {
        outcomes[index] = taken[slot] as PublishOutcome;
      });
      return outcomes;
    },
    subscribe: broker.subscribe.bind(broker),
    request: broker.request.bind(broker),
    respond: broker.respond.bind(broker),
    retain: broker.retain.bind(broker),
    health: broker.health.bind(broker),
    stats: broker.stats.bind(broker),
    close: broker.close.bind(broker),
    failAfter(okCount: number) {
      remaining = okCount;
    },
    failMatching(marker: string, error: () => Error) {
      matching = { marker, error };
    },
    heal() {
      remaining = undefined;
      matching = undefined;
    },
  });
}
