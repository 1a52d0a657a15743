import type { Metrics } from '../../metrics.ts';

/** What /stats shows of the subscriptions of every transport (the `graphql` section). */
export interface OpenSubscriptionFigures {
  /** Open now. */
  readonly active: number;
  /** Started since the server started. */
  readonly total: number;
  /** Open now, by transport (graphql_ws, graphql_sse, apollo_ws, legacy_ws, …). */
  readonly byTransport: Readonly<Record<string, number>>;
  /** Open now, by root field (stateStream, topicMessages, …). */
  readonly byRootField: Readonly<Record<string, number>>;
}

/**
 * Every open subscription by root field and transport: the `open_subscriptions` gauge of
 * /metrics and the `graphql` section of /stats, so that an operator sees a client's unsubscribe
 * take effect. Counted where every transport passes (the envelop subscribe hook).
 */
export interface OpenSubscriptions {
  /** A subscription started; the returned function marks its end (idempotent). */
  opened(transport: string, rootField: string): () => void;
  figures(): OpenSubscriptionFigures;
}

export function createOpenSubscriptions(metrics: Metrics): OpenSubscriptions {
  const gauge = metrics.gauge({
    name: 'open_subscriptions',
    help: 'Subscriptions open now, by root field and transport.',
    labelNames: ['root_field', 'transport'],
  });
  const open = new Map<string, { transport: string; rootField: string; count: number }>();
  let total = 0;

  return {
    opened(transport, rootField) {
      const key = `${transport}\u0000${rootField}`;
      const entry = open.get(key) ?? { transport, rootField, count: 0 };
      open.set(key, entry);
      entry.count += 1;
      total += 1;
      gauge.inc({ root_field: rootField, transport });
      let closed = false;
      return () => {
        if (closed) return;
        closed = true;
        entry.count -= 1;
        // Keep the series at 0 rather than removing it: a dashboard sees the drop.
        gauge.set({ root_field: rootField, transport }, entry.count);
      };
    },
    figures() {
      const byTransport: Record<string, number> = {};
      const byRootField: Record<string, number> = {};
      let active = 0;
      for (const { transport, rootField, count } of open.values()) {
        if (count === 0) continue;
        active += count;
        byTransport[transport] = (byTransport[transport] ?? 0) + count;
        byRootField[rootField] = (byRootField[rootField] ?? 0) + count;
      }
      return { active, total, byTransport, byRootField };
    },
  };
}
