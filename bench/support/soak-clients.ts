/**
 * One connect → subscribe → receive a few events → unsubscribe → disconnect cycle of a soak
 * client, for every transport streamgate serves, through the public routes only (so the soak
 * measures the same thing whatever adapter sits behind a route). Each cycle resolves when the
 * client has gone, and throws (naming the transport and step) on anything a client would notice.
 */
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';
import { AsyncQueue } from '../../test/helpers/async-queue.ts';
import { readSse, type SseEvent } from '../../test/helpers/sse-client.ts';

export const SOAK_TRANSPORTS = [
  'graphql-ws',
  'sse',
  'graphql-sse',
  'legacy-topic-ws',
  'legacy-state-ws',
  'legacy-sse',
] as const;
export type SoakTransport = (typeof SOAK_TRANSPORTS)[number];

/** What a GraphQL-speaking client subscribes to in one cycle (the three shared root fields in turn). */
export type SoakSubject =
  | { readonly kind: 'device'; readonly id: string }
  | { readonly kind: 'state'; readonly id: string }
  | { readonly kind: 'topic'; readonly id: string };

export interface SoakCycle {
  readonly transport: SoakTransport;
  readonly http: string;
  readonly token: string;
  readonly subject: SoakSubject;
  /** The state the legacy /ws/stream/{state} client reads, and the topic the legacy topic clients read. */
  readonly state: string;
  readonly topic: string;
  readonly events: number;
  readonly timeoutMs: number;
}

function operationOf(subject: SoakSubject): { query: string; variables: Record<string, unknown> } {
  switch (subject.kind) {
    case 'device':
      return {
        query: 'subscription($id: ID!) { deviceMessages(deviceId: $id) { seq timestamp data } }',
        variables: { id: subject.id },
      };
    case 'state':
      return {
        query: 'subscription($id: ID!) { stateStream(stateId: $id) { type data } }',
        variables: { id: subject.id },
      };
    case 'topic':
      return {
        query: 'subscription($t: String!) { topicMessages(topics: [$t]) { topic key data } }',
        variables: { t: subject.id },
      };
  }
}

/** A WebSocket whose text frames queue up; the queue fails when the socket closes or errors. */
async function openSocket(url: string, protocol?: string) {
  const socket = new WebSocket(url, protocol);
  const frames = new AsyncQueue<string>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => {
      frames.fail(new Error(`socket closed ${code} ${reason.toString()}`));
      resolve({ code, reason: reason.toString() });
    });
  });
  socket.on('message', (data) => frames.push(data.toString()));
  socket.on('error', (error) => frames.fail(error));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`upgrade refused with HTTP ${response.statusCode}`)),
    );
  });
  return {
    socket,
    /** The next frame that passes `accept` (others are skipped), parsed as JSON unless `raw`. */
    async next<T = Record<string, unknown>>(
      timeoutMs: number,
      what: string,
      accept: (frame: Record<string, unknown>) => boolean = () => true,
    ): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const frame = JSON.parse(await frames.next(Math.max(1, deadline - Date.now()), what)) as Record<
          string,
          unknown
        >;
        if (accept(frame)) return frame as T;
      }
    },
    async nextRaw(timeoutMs: number, what: string): Promise<string> {
      return frames.next(timeoutMs, what);
    },
    /** Closes with 1000 and waits for the server's close frame. */
    async close(): Promise<void> {
      if (socket.readyState === WebSocket.OPEN) socket.close(1000);
      await closed;
    },
  };
}

async function graphqlWsCycle(cycle: SoakCycle): Promise<void> {
  const ws = await openSocket(`${cycle.http.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  try {
    ws.socket.send(
      JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${cycle.token}` } }),
    );
    await ws.next(cycle.timeoutMs, 'connection_ack', (frame) => frame.type === 'connection_ack');
    ws.socket.on('message', (data) => {
      if (data.toString() === '{"type":"ping"}') ws.socket.send('{"type":"pong"}');
    });
    ws.socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: operationOf(cycle.subject) }));
    for (let event = 0; event < cycle.events; event++) {
      const frame = await ws.next<{ type: string; payload?: unknown }>(
        cycle.timeoutMs,
        `event ${event + 1} of ${cycle.subject.kind}`,
        (candidate) => candidate.type !== 'ping' && candidate.type !== 'pong',
      );
      if (frame.type !== 'next' || (frame.payload as { errors?: unknown }).errors)
        throw new Error(`graphql-ws ${frame.type}: ${JSON.stringify(frame.payload).slice(0, 300)}`);
    }
    ws.socket.send(JSON.stringify({ id: '1', type: 'complete' }));
  } finally {
    await ws.close();
  }
}

/** Reads `count` SSE events of type `type` (others skipped), failing on an `error` event. */
async function takeSseEvents(
  events: AsyncQueue<SseEvent>,
  type: string,
  count: number,
  timeoutMs: number,
): Promise<SseEvent[]> {
  const taken: SseEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (taken.length < count) {
    const event = await events.next(Math.max(1, deadline - Date.now()), `SSE ${type} ${taken.length + 1}`);
    if (event.event === type) {
      if (type === 'next' && (JSON.parse(event.data) as { errors?: unknown }).errors)
        throw new Error(`SSE next with errors: ${event.data.slice(0, 300)}`);
      taken.push(event);
    } else if (event.event === 'error' || event.event === 'complete')
      throw new Error(`SSE ${event.event}: ${event.data.slice(0, 300)}`);
  }
  return taken;
}

/** GraphQL over SSE on /graphql (yoga's distinct-connection mode), read with fetch; abort = unsubscribe. */
async function sseCycle(cycle: SoakCycle): Promise<void> {
  const abort = new AbortController();
  try {
    const response = await fetch(`${cycle.http}/graphql`, {
      method: 'POST',
      headers: {
        accept: 'text/event-stream',
        'content-type': 'application/json',
        authorization: `Bearer ${cycle.token}`,
      },
      body: JSON.stringify(operationOf(cycle.subject)),
      signal: abort.signal,
    });
    if (response.status !== 200) throw new Error(`SSE answered ${response.status}: ${await response.text()}`);
    const stream = readSse(response);
    stream.closed.catch(() => undefined);
    await takeSseEvents(stream.events, 'next', cycle.events, cycle.timeoutMs);
  } finally {
    abort.abort();
  }
}

/** graphql-sse's own client on /graphql/stream, in single-connection mode (reservation, stream, operation). */
async function graphqlSseCycle(cycle: SoakCycle): Promise<void> {
  const client = createSseClient({
    url: `${cycle.http}/graphql/stream`,
    singleConnection: true,
    retryAttempts: 0,
    headers: { authorization: `Bearer ${cycle.token}` },
  });
  const results = new AsyncQueue<{ errors?: unknown }>();
  let dispose: (() => void) | undefined;
  try {
    dispose = client.subscribe(operationOf(cycle.subject), {
      next: (result) => results.push(result as { errors?: unknown }),
      error: (error) => results.fail(error instanceof Error ? error : new Error(JSON.stringify(error))),
      complete: () => results.fail(new Error('graphql-sse completed early')),
    });
    for (const result of await results.take(cycle.events, cycle.timeoutMs, 'graphql-sse events'))
      if (result.errors)
        throw new Error(`graphql-sse errors: ${JSON.stringify(result.errors).slice(0, 300)}`);
  } finally {
    dispose?.();
    client.dispose();
  }
}

/** The legacy 254Carbon topic socket /ws/stream?token=: subscribe, data frames, unsubscribe. */
async function legacyTopicWsCycle(cycle: SoakCycle): Promise<void> {
  const ws = await openSocket(
    `${cycle.http.replace(/^http/, 'ws')}/ws/stream?token=${encodeURIComponent(cycle.token)}`,
  );
  try {
    const hello = await ws.next(cycle.timeoutMs, 'connection_established');
    if (hello.type !== 'connection_established') throw new Error(`first frame ${JSON.stringify(hello)}`);
    ws.socket.send(JSON.stringify({ action: 'subscribe', data: { topics: [cycle.topic] } }));
    const confirmed = await ws.next(
      cycle.timeoutMs,
      'subscription_confirmed',
      (frame) => frame.type !== 'data',
    );
    if (confirmed.type !== 'subscription_confirmed' || confirmed.success !== true)
      throw new Error(`subscribe answered ${JSON.stringify(confirmed).slice(0, 300)}`);
    for (let event = 0; event < cycle.events; event++) {
      const frame = await ws.next(cycle.timeoutMs, `data ${event + 1}`);
      if (frame.type !== 'data') throw new Error(`expected data, got ${JSON.stringify(frame).slice(0, 300)}`);
    }
    ws.socket.send(JSON.stringify({ action: 'unsubscribe', data: { topics: [cycle.topic] } }));
    await ws.next(cycle.timeoutMs, 'unsubscribed', (frame) => frame.type === 'unsubscribed');
  } finally {
    await ws.close();
  }
}

/** The legacy ISM socket /ws/stream/{state}: every frame is one message of the state's subject. */
async function legacyStateWsCycle(cycle: SoakCycle): Promise<void> {
  const ws = await openSocket(
    `${cycle.http.replace(/^http/, 'ws')}/ws/stream/${encodeURIComponent(cycle.state)}?token=${encodeURIComponent(cycle.token)}`,
  );
  try {
    for (let event = 0; event < cycle.events; event++) {
      const frame = await ws.nextRaw(cycle.timeoutMs, `state frame ${event + 1}`);
      if (!frame.includes('query_state_entry')) throw new Error(`unexpected frame ${frame.slice(0, 300)}`);
    }
  } finally {
    await ws.close();
  }
}

/** The legacy SSE /sse/stream?token= with POST /sse/subscribe for its topic. */
async function legacySseCycle(cycle: SoakCycle): Promise<void> {
  const abort = new AbortController();
  try {
    const response = await fetch(`${cycle.http}/sse/stream?token=${encodeURIComponent(cycle.token)}`, {
      signal: abort.signal,
    });
    if (response.status !== 200)
      throw new Error(`/sse/stream answered ${response.status}: ${await response.text()}`);
    const stream = readSse(response);
    stream.closed.catch(() => undefined);
    const [hello] = await takeSseEvents(stream.events, 'connection_established', 1, cycle.timeoutMs);
    const connectionId = (JSON.parse(hello?.data ?? '{}') as { connection_id?: string }).connection_id;
    const subscribed = await fetch(`${cycle.http}/sse/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cycle.token}` },
      body: JSON.stringify({ connection_id: connectionId, topic: cycle.topic }),
    });
    const answer = await subscribed.text();
    if (subscribed.status !== 200) throw new Error(`/sse/subscribe answered ${subscribed.status}: ${answer}`);
    await takeSseEvents(stream.events, 'data', cycle.events, cycle.timeoutMs);
  } finally {
    abort.abort();
  }
}

const CYCLES: Record<SoakTransport, (cycle: SoakCycle) => Promise<void>> = {
  'graphql-ws': graphqlWsCycle,
  sse: sseCycle,
  'graphql-sse': graphqlSseCycle,
  'legacy-topic-ws': legacyTopicWsCycle,
  'legacy-state-ws': legacyStateWsCycle,
  'legacy-sse': legacySseCycle,
};

/** Runs one cycle of `cycle.transport`. */
export function runSoakCycle(cycle: SoakCycle): Promise<void> {
  return CYCLES[cycle.transport](cycle);
}
