import type { ServerResponse } from 'node:http';
import { type ExecutionResult, parse } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnectionLimiter } from '../../src/domain/limits/connection-limiter.ts';
import type { GraphQLContext } from '../../src/domain/resolver-context.ts';
import { SubscriptionGroups } from '../../src/server/delivery/subscription-groups.ts';
import type { OperationRunner, ParsedOperation } from '../../src/server/operation-runner.ts';
import type { OpenSubscriptions } from '../../src/server/ops/open-subscriptions.ts';
import type { TransportStats } from '../../src/server/ops/transport-stats.ts';
import { EventStreams } from '../../src/server/sse/event-stream.ts';
import { createSseDelivery } from '../../src/server/sse/sse-delivery.ts';
import { DISTINCT_FRAMING } from '../../src/server/sse/sse-subscription.ts';
import { waitUntil } from '../helpers/async-queue.ts';

/** The Node response of a client that went away while its request was being answered. */
const closedResponse = {
  closed: true,
  writableFinished: false,
  once: () => undefined,
  destroy: () => undefined,
} as unknown as ServerResponse;

const SOURCE = 'subscription { deviceMessages(deviceId: "d1") { seq } }';

/**
 * A client that aborts while the server checks its token (under load, that takes a while) has
 * closed its response before the SSE stream is made for it: the stream must be over at once,
 * and its subscription must not stay in its group (the soak's "SSE streams still open").
 */
describe('an SSE client gone before its stream was opened', () => {
  let streams: EventStreams;
  afterEach(() => streams?.dispose());

  it('gets a stream that is over at once: not counted, and its close callbacks run', () => {
    streams = new EventStreams({ maxBufferedBytes: 1 << 20 });
    const stream = streams.open(closedResponse);
    expect(stream.open).toBe(false);
    expect(streams.size).toBe(0);
    let closed = false;
    stream.whenClosed(() => {
      closed = true;
    });
    expect(closed).toBe(true);
  });

  it('leaves its subscription group, which ends its source, and gives back its slot and gauge', async () => {
    streams = new EventStreams({ maxBufferedBytes: 1 << 20 });
    const groups = new SubscriptionGroups();
    const limiter = createConnectionLimiter({
      maxWebSocket: 10,
      maxSse: 10,
      maxPerUser: 10,
      maxPerTenant: 10,
    });
    let ended = false;
    let open = 0;
    const source: AsyncIterableIterator<ExecutionResult> = {
      next: () => new Promise(() => undefined),
      return: async () => {
        ended = true;
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const delivery = createSseDelivery({
      runner: { run: async () => source } as unknown as OperationRunner,
      groups,
      streams,
      buildContext: async () => ({}) as GraphQLContext,
      limiter,
      stats: {
        connectionOpened: () => undefined,
        connectionClosed: () => undefined,
        subscriptionStarted: () => undefined,
      } as unknown as TransportStats,
      openSubscriptions: {
        opened: () => {
          open++;
          return () => {
            open--;
          };
        },
      } as unknown as OpenSubscriptions,
      onRefused: () => undefined,
    });
    const document = parse(SOURCE);
    const operation = document.definitions[0];
    if (operation?.kind !== 'OperationDefinition') throw new Error('no operation');
    const parsed: ParsedOperation = {
      document,
      operation,
      kind: operation.operation,
      operationName: null,
      variables: {},
    };
    const close = delivery.openConnection({ userId: 'u1', tenantId: 't1', roles: [] });
    delivery.start({
      parsed,
      source: SOURCE,
      context: {
        viewer: { userId: 'u1', tenantId: 't1', roles: [] },
        correlationId: 'c1',
      } as unknown as GraphQLContext,
      stream: streams.open(closedResponse),
      framing: DISTINCT_FRAMING,
      endsStream: true,
      onEnd: close,
    });
    expect(groups.size).toBe(0);
    expect(open).toBe(0);
    expect(limiter.count({ kind: 'sse' })).toBe(0);
    await waitUntil(() => ended, 5_000, 'the group to end its source');
  });
});
