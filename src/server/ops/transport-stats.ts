import type { Metrics } from '../../metrics.ts';

/** The client transports streamgate counts separately, as an `as const` object (STYLE.md 9). */
export const TRANSPORTS = {
  LEGACY_WS: 'legacy_ws',
  LEGACY_SSE: 'legacy_sse',
  GRAPHQL_WS: 'graphql_ws',
  GRAPHQL_SSE: 'graphql_sse',
  /** The old Apollo protocol (subscriptions-transport-ws) on /graphql. */
  APOLLO_WS: 'apollo_ws',
} as const;
export type Transport = (typeof TRANSPORTS)[keyof typeof TRANSPORTS];

/** Which transports the legacy /stats sections add up. */
export const WEBSOCKET_TRANSPORTS: readonly Transport[] = [
  TRANSPORTS.LEGACY_WS,
  TRANSPORTS.GRAPHQL_WS,
  TRANSPORTS.APOLLO_WS,
];
export const SSE_TRANSPORTS: readonly Transport[] = [TRANSPORTS.LEGACY_SSE, TRANSPORTS.GRAPHQL_SSE];

export interface TransportFigures {
  readonly totalConnections: number;
  readonly activeConnections: number;
  readonly totalMessages: number;
  /** Messages sent per second over the sliding window. */
  readonly messagesPerSecond: number;
}

/**
 * Connection and message counts per transport, for /stats (with a sliding-window rate) and
 * /metrics (the legacy metric names, labelled by transport). Transports report here; nothing
 * reads a socket.
 */
export interface TransportStats {
  connectionOpened(transport: Transport): void;
  connectionClosed(transport: Transport): void;
  /** A message sent to a client (a data frame, a subscription event). */
  messageSent(transport: Transport, count?: number): void;
  /** A frame a client sent. */
  messageReceived(transport: Transport): void;
  subscriptionStarted(transport: Transport): void;
  figures(transports: readonly Transport[]): TransportFigures;
}

const BUCKET_MS = 1_000;

/** Counts per second in a ring of buckets covering `windowMs`. */
class SlidingRate {
  private readonly buckets: number[];
  private readonly stamps: number[];
  private readonly startedAt: number;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {
    const size = Math.max(1, Math.ceil(windowMs / BUCKET_MS));
    this.buckets = new Array<number>(size).fill(0);
    this.stamps = new Array<number>(size).fill(-1);
    this.startedAt = now();
  }

  add(count: number): void {
    const slot = Math.floor(this.now() / BUCKET_MS);
    const index = slot % this.buckets.length;
    if (this.stamps[index] !== slot) {
      this.stamps[index] = slot;
      this.buckets[index] = 0;
    }
    this.buckets[index] = (this.buckets[index] ?? 0) + count;
  }

  /** Per second over the window, or over the uptime while that is shorter. */
  perSecond(): number {
    const now = this.now();
    const current = Math.floor(now / BUCKET_MS);
    const oldest = current - this.buckets.length + 1;
    let sum = 0;
    for (let index = 0; index < this.buckets.length; index++) {
      const stamp = this.stamps[index] ?? -1;
      if (stamp >= oldest && stamp <= current) sum += this.buckets[index] ?? 0;
    }
    const spanMs = Math.min(this.windowMs, Math.max(BUCKET_MS, now - this.startedAt));
    return Math.round((sum / (spanMs / 1000)) * 100) / 100;
  }
}

interface Counts {
  total: number;
  active: number;
  messages: number;
  readonly rate: SlidingRate;
}

export function createTransportStats(
  metrics: Metrics,
  options: { windowMs: number; now?: () => number },
): TransportStats {
  const now = options.now ?? Date.now;
  const counts = new Map<Transport, Counts>(
    Object.values(TRANSPORTS).map((transport) => [
      transport,
      { total: 0, active: 0, messages: 0, rate: new SlidingRate(options.windowMs, now) },
    ]),
  );
  const countsOf = (transport: Transport) => counts.get(transport) as Counts;
  const isWebSocket = (transport: Transport) => WEBSOCKET_TRANSPORTS.includes(transport);

  const websocketConnections = metrics.counter({
    name: 'websocket_connections_total',
    help: 'WebSocket connections accepted, by transport (legacy_ws, graphql_ws, apollo_ws).',
    labelNames: ['transport'],
  });
  const sseConnections = metrics.counter({
    name: 'sse_connections_total',
    help: 'SSE streams opened, by transport (legacy_sse, graphql_sse).',
    labelNames: ['transport'],
  });
  const activeConnections = metrics.gauge({
    name: 'active_connections',
    help: 'Open client connections, by transport.',
    labelNames: ['transport'],
  });
  const messagesSent = metrics.counter({
    name: 'messages_sent_total',
    help: 'Messages sent to clients, by transport.',
    labelNames: ['transport'],
  });
  const messagesReceived = metrics.counter({
    name: 'messages_received_total',
    help: 'Frames received from clients, by transport.',
    labelNames: ['transport'],
  });
  const subscriptions = metrics.counter({
    name: 'subscriptions_total',
    help: 'Subscriptions started, by transport.',
    labelNames: ['transport'],
  });
  // Zero series from the start, so that rates and dashboards see every transport.
  for (const transport of Object.values(TRANSPORTS)) {
    (isWebSocket(transport) ? websocketConnections : sseConnections).inc({ transport }, 0);
    activeConnections.set({ transport }, 0);
    messagesSent.inc({ transport }, 0);
    messagesReceived.inc({ transport }, 0);
    subscriptions.inc({ transport }, 0);
  }

  return {
    connectionOpened(transport) {
      const entry = countsOf(transport);
      entry.total += 1;
      entry.active += 1;
      (isWebSocket(transport) ? websocketConnections : sseConnections).inc({ transport });
      activeConnections.inc({ transport });
    },
    connectionClosed(transport) {
      const entry = countsOf(transport);
      entry.active = Math.max(0, entry.active - 1);
      activeConnections.set({ transport }, entry.active);
    },
    messageSent(transport, count = 1) {
      const entry = countsOf(transport);
      entry.messages += count;
      entry.rate.add(count);
      messagesSent.inc({ transport }, count);
    },
    messageReceived(transport) {
      messagesReceived.inc({ transport });
    },
    subscriptionStarted(transport) {
      subscriptions.inc({ transport });
    },
    figures(transports) {
      let totalConnections = 0;
      let active = 0;
      let totalMessages = 0;
      let messagesPerSecond = 0;
      for (const transport of transports) {
        const entry = countsOf(transport);
        totalConnections += entry.total;
        active += entry.active;
        totalMessages += entry.messages;
        messagesPerSecond += entry.rate.perSecond();
      }
      return {
        totalConnections,
        activeConnections: active,
        totalMessages,
        messagesPerSecond: Math.round(messagesPerSecond * 100) / 100,
      };
    },
  };
}
