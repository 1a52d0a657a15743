import type { BrokerStats, Responder } from './broker.ts';
import type { SharedSubscriptions } from './shared-subscriptions.ts';

/** The responders of one broker: counted for stats(), all stopped by close(). */
export class ResponderSet {
  private readonly responders = new Set<Responder>();

  get size(): number {
    return this.responders.size;
  }

  /** A Responder whose stop() runs `stop` once and forgets it. */
  add(stop: () => void): Responder {
    const responder: Responder = {
      stop: async () => {
        if (!this.responders.delete(responder)) return;
        stop();
      },
    };
    this.responders.add(responder);
    return responder;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.responders].map((responder) => responder.stop()));
  }
}

/** stats() of every backend: local subscriptions, the broker subscriptions they share, responders. */
export function brokerStats(shared: SharedSubscriptions, responders: { readonly size: number }): BrokerStats {
  return {
    subscriptions: shared.subscriptionCount,
    brokerSubscriptions: shared.feedCount,
    responders: responders.size,
  };
}

/** The first steps of every backend's close(): end each local subscription, stop each responder. */
export async function closeLocalEndpoints(
  shared: SharedSubscriptions,
  responders: ResponderSet,
): Promise<void> {
  shared.closeAll();
  await responders.stopAll();
}
