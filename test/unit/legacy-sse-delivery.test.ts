import type { ExecutionResult } from 'graphql';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/domain/viewer.ts';
import { createMetrics } from '../../src/metrics.ts';
import { SubscriptionGroups } from '../../src/server/delivery/subscription-groups.ts';
import { LegacyTopicMessagesDocument } from '../../src/server/legacy-topics/documents.ts';
import type { LegacyAccess } from '../../src/server/legacy-topics/legacy-access.ts';
import { useLegacySse } from '../../src/server/legacy-topics/sse-stream.ts';
import { createTopicOperations } from '../../src/server/legacy-topics/topic-operations.ts';
import type { OperationRunner, ParsedOperation } from '../../src/server/operation-runner.ts';
import { createOpenSubscriptions } from '../../src/server/ops/open-subscriptions.ts';
import { createTransportStats } from '../../src/server/ops/transport-stats.ts';

/**
 * The legacy `/sse/stream` on the SSE delivery core, in process: a burst of one group's events
 * in one tick reaches each stream as one chunk (one write), in order, and each event's legacy
 * frame is serialized once for all the group's streams, not once per stream.
 */
const TOPIC = 'burst.topic';
const OTHER = 'burst.other';
const viewer: Viewer = { userId: 'reader', tenantId: 'tenant-1', roles: [] };

/** A source stream the test feeds by hand: `push` queues results the group takes at once. */
function pushSource() {
  const queued: ExecutionResult[] = [];
  let waiting: ((result: IteratorResult<ExecutionResult>) => void) | undefined;
  let ended = false;
  const source: AsyncIterableIterator<ExecutionResult> = {
    next: () => {
      const value = queued.shift();
      if (value) return Promise.resolve({ done: false, value });
      if (ended) return Promise.resolve({ done: true, value: undefined });
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    return: async () => {
      ended = true;
      waiting?.({ done: true, value: undefined });
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return {
    source,
    push(result: ExecutionResult) {
      const resolve = waiting;
      waiting = undefined;
      if (resolve) resolve({ done: false, value: result });
      else queued.push(result);
    },
  };
}

/** Counts how often the message data is serialized (JSON.stringify calls toJSON once each time). */
function countedData(n: number, counter: { serialized: number }) {
  return {
    toJSON() {
      counter.serialized += 1;
      return { n };
    },
  };
}

/** The broker position token of message `n` of `topic`, alone (what its `id:` is on a one-topic stream). */
const positionOf = (topic: string, n: number) =>
  Buffer.from(JSON.stringify({ v: 1, t: { [topic]: { a: `${n}-0` } } })).toString('base64url');

function topicResult(n: number, counter: { serialized: number }, topic = TOPIC): ExecutionResult {
  return {
    data: {
      topicMessages: {
        topic,
        key: null,
        data: countedData(n, counter),
        timestamp: new Date(1_700_000_000_000 + n).toISOString(),
        partition: null,
        offset: null,
        position: positionOf(topic, n),
      },
    },
  };
}

describe('legacy /sse/stream on the SSE delivery core', () => {
  let dispose: (() => void) | undefined;
  afterEach(() => dispose?.());

  function stage() {
    const metrics = createMetrics({ processMetrics: false });
    const stats = createTransportStats(metrics, { windowMs: 1_000 });
    const openSubscriptions = createOpenSubscriptions(metrics);
    // One source per topic (per group), as topicMessages has.
    const feeds = new Map<string, ReturnType<typeof pushSource>>();
    const feed = (topic: string) => {
      let found = feeds.get(topic);
      if (!found) {
        found = pushSource();
        feeds.set(topic, found);
      }
      return found;
    };
    let runs = 0;
    const runner = {
      parse: (request: { variables?: Record<string, unknown> }) => {
        const operation = LegacyTopicMessagesDocument.definitions[0];
        if (operation?.kind !== 'OperationDefinition') throw new Error('no operation');
        const parsed: ParsedOperation = {
          document: LegacyTopicMessagesDocument,
          operation,
          kind: operation.operation,
          operationName: 'LegacyTopicMessages',
          variables: request.variables ?? {},
        };
        return parsed;
      },
      run: async (parsed: ParsedOperation) => {
        runs += 1;
        return feed((parsed.variables.topics as string[])[0] ?? '').source;
      },
    } as unknown as OperationRunner;
    const operations = createTopicOperations({
      runner,
      groups: new SubscriptionGroups(),
      stats,
      openSubscriptions,
    });
    const access: LegacyAccess = {
      authenticate: async () => ({ ok: true, viewer }),
      openConnection: () => ({ ok: true, release: () => undefined }),
    };
    const legacy = useLegacySse({
      operations,
      access,
      stats,
      log: pino({ level: 'silent' }),
      heartbeatMs: 60_000,
      outboundLimitBytes: 1 << 20,
      metrics,
      maxPayloadBytes: 64 * 1024,
    });
    dispose = () => legacy.dispose();
    const route = (path: string) => {
      const found = legacy.routes.find((candidate) => candidate.path === path);
      if (!found) throw new Error(`no route ${path}`);
      return found;
    };
    const streamRoute = route('/sse/stream');
    const subscribeRoute = route('/sse/subscribe');

    /** Opens a stream, subscribes it to `topics`; returns its reader past connection_established. */
    async function member(topics: readonly string[] = [TOPIC]) {
      const open = 'http://sg/sse/stream?token=t';
      const response = await streamRoute.handle(new Request(open), {}, {}, new URL(open));
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const hello = Buffer.from((await reader.read()).value ?? []).toString();
      const connectionId = (JSON.parse(hello.split('data: ')[1] ?? '{}') as { connection_id: string })
        .connection_id;
      expect(hello).toBe(
        `event: connection_established\ndata: ${JSON.stringify({ connection_id: connectionId, user_id: 'reader', tenant_id: 'tenant-1' })}\n\n`,
      );
      for (const topic of topics) {
        const subscribe = 'http://sg/sse/subscribe?token=t';
        const subscribed = await subscribeRoute.handle(
          new Request(subscribe, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ connection_id: connectionId, topic }),
          }),
          {},
          {},
          new URL(subscribe),
        );
        expect(subscribed.status).toBe(200);
      }
      return reader;
    }
    return { feed, member, runs: () => runs };
  }

  it('writes a burst of one tick as one chunk per stream, in order, each event serialized once for all', async () => {
    const { feed, member, runs } = stage();
    const members = 20;
    const burst = 10;
    const readers = [];
    for (let index = 0; index < members; index++) readers.push(await member());
    expect(runs()).toBe(1); // one group, one source for every stream

    const counter = { serialized: 0 };
    for (let n = 0; n < burst; n++) feed(TOPIC).push(topicResult(n, counter));

    for (const reader of readers) {
      // One read = one enqueued chunk = one write toward the client.
      const chunk = Buffer.from((await reader.read()).value ?? []).toString();
      const events = chunk.split('\n\n').filter((event) => event !== '');
      expect(events).toHaveLength(burst);
      events.forEach((event, n) => {
        expect(event).toBe(
          `id: ${positionOf(TOPIC, n)}\nevent: data\ndata: ${JSON.stringify({
            topic: TOPIC,
            data: { n },
            timestamp: 1_700_000_000_000 + n,
            partition: null,
            offset: null,
          })}`,
        );
      });
    }
    // Each message's JSON was made once, not once per stream.
    expect(counter.serialized).toBe(burst);
  });

  it('a stream of two topics writes its own id: (both positions) before the bytes its groups share', async () => {
    const { feed, member } = stage();
    const both = await member([TOPIC, OTHER]);
    const alone = await member([TOPIC]);
    const counter = { serialized: 0 };
    feed(TOPIC).push(topicResult(1, counter));
    feed(OTHER).push(topicResult(2, counter, OTHER));
    const event = (topic: string, n: number) =>
      `event: data\ndata: ${JSON.stringify({ topic, data: { n }, timestamp: 1_700_000_000_000 + n, partition: null, offset: null })}\n\n`;
    const bothPosition = Buffer.from(
      JSON.stringify({ v: 1, t: { [TOPIC]: { a: '1-0' }, [OTHER]: { a: '2-0' } } }),
    ).toString('base64url');
    expect(Buffer.from((await both.read()).value ?? []).toString()).toBe(
      `id: ${positionOf(TOPIC, 1)}\n${event(TOPIC, 1)}id: ${bothPosition}\n${event(OTHER, 2)}`,
    );
    expect(Buffer.from((await alone.read()).value ?? []).toString()).toBe(
      `id: ${positionOf(TOPIC, 1)}\n${event(TOPIC, 1)}`,
    );
    expect(counter.serialized).toBe(2);
  });
});
