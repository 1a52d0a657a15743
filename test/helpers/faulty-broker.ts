import type { Broker, MessageToPublish } from '../../src/pubsub/broker.ts';
import { BrokerUnavailableError } from '../../src/pubsub/errors.ts';
import { publishEach } from '../../src/pubsub/publish-each.ts';

/**
 * A real broker whose publishes can be made to fail from the n-th one on: the only way to put a
 * broker failure exactly in the middle of one ingest batch. Everything else passes through.
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
  const publish: Broker['publish'] = (...args) => {
    if (matching && Buffer.from(args[1]).toString('utf8').includes(matching.marker)) {
      return Promise.reject(matching.error());
    }
    if (remaining !== undefined) {
      if (remaining === 0) return Promise.reject(new BrokerUnavailableError('injected publish failure'));
      remaining -= 1;
    }
    return broker.publish(...args);
  };
  return Object.assign(Object.create(broker) as Broker, {
    kind: broker.kind,
    publish,
    publishMany: (messages: readonly MessageToPublish[]) => publishEach(publish, messages),
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
