import { request as httpRequest } from 'node:http';
import { monotonicMs } from './bench-clock.ts';
import { connectLean, type LeanSocket } from './lean-ws-client.ts';

/**
 * How one subscriber connects: graphql-ws (`graphql-transport-ws`) with one subscription, GraphQL
 * over SSE (a POST with `Accept: text/event-stream`), or a bare socket.
 */
export type SubscriberSpec =
  | {
      readonly kind: 'graphql-ws';
      readonly url: string;
      readonly query: string;
      readonly variables: Readonly<Record<string, unknown>>;
      /** The `connection_init` payload (graphql-ws connectionParams), e.g. a token. */
      readonly connectionParams?: Readonly<Record<string, unknown>>;
    }
  | {
      readonly kind: 'sse';
      /** http://host:port/graphql */
      readonly url: string;
      readonly query: string;
      readonly variables: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: 'raw'; readonly url: string }
  | {
      /** The old streaming service's socket (`/ws/stream?token=`): `subscribe` one topic. */
      readonly kind: 'legacy-ws';
      /** ws://host:port/ws/stream?token=… */
      readonly url: string;
      readonly topic: string;
    }
  | {
      /** The old streaming service's SSE (`GET /sse/stream?token=`, then `POST /sse/subscribe`). */
      readonly kind: 'legacy-sse';
      /** http://host:port */
      readonly url: string;
      readonly token: string;
      readonly topic: string;
    };

/** An open subscriber, to be closed at the end of a case. */
export interface Subscriber {
  close(): Promise<void>;
}

/** The marker every benchmark payload carries: its publish time (CLOCK_MONOTONIC ms, bench-clock.ts). */
export const SENT_AT = '"sentAt":';
/** The pad every benchmark payload carries (see benchEvents in bench-targets.ts)… */
const PAD = '"pad":"';
/** …which starts with this word in a readiness probe (PROBE_PAD in bench-targets.ts). */
const PROBE_WORD = 'probe';
const SENT_AT_BYTES = Buffer.from(SENT_AT, 'latin1');
const PAD_BYTES = Buffer.from(PAD, 'latin1');
const PROBE_BYTES = Buffer.from(PROBE_WORD, 'latin1');

/**
 * One sampled delivery: the message it belongs to, by the publish time it carried (`sentAt`, which
 * is unique per publish), and its publish-to-client latency. Grouped by `sentAt`, a message's
 * samples say when it reached its first and its last sampled subscriber (fanout.ts).
 */
export interface LatencySample {
  readonly sentAt: number;
  readonly latencyMs: number;
}

/** The sample of a delivery carrying `sentAt` whose chunk was read at `receivedAt` (performance.now()). */
function sampleOf(sentAt: number, receivedAt: number): LatencySample {
  return { sentAt, latencyMs: monotonicMs(receivedAt) - sentAt };
}

/** Every how many subscribers one takes latency samples, unless the tracker is told otherwise. */
export const DEFAULT_SAMPLE_EVERY = 10;

/**
 * Counts deliveries of every subscriber of a run and, when `sampling`, the publish-to-client
 * latency of the sampled subscribers' deliveries (publisher and load client read one clock,
 * bench-clock.ts). Every subscriber is counted, so a lost delivery stalls the run; only every
 * `sampleEvery`-th subscriber (spread over the connection order, hence over the server's write
 * order) reads its frames' publish times, stamped with the time their chunk was read, before
 * any frame of the chunk is handled. Waiters resolve in the read handler: no polling.
 */
export class DeliveryTracker {
  delivered = 0;
  /** Subscribers that have received at least one delivery (the readiness probe). */
  live = 0;
  /** Told when sampling turns on or off: a load client in another process samples only then. */
  onSamplingChange: ((on: boolean) => void) | undefined;
  /**
   * CPU time (µs) the load client has used so far: this process's (publisher and, with the Node
   * client, every subscriber), plus the Go client's process when it reads the sockets.
   */
  clientCpuMicros: () => number = () => {
    const used = process.cpuUsage();
    return used.user + used.system;
  };
  private samplingOn = false;
  /** Probe frames received (not deliveries). */
  probes = 0;
  /** performance.now() of the last benchmark frame (probe or delivery) that arrived. */
  lastFrameAt = 0;
  readonly samples: LatencySample[] = [];
  failure: Error | undefined;
  private waiters: Array<{ count: number; resolve(): void }> = [];

  constructor(readonly sampleEvery = DEFAULT_SAMPLE_EVERY) {}

  /** Whether the subscriber opened `index`-th takes latency samples. */
  isSampled(index: number): boolean {
    return index % this.sampleEvery === 0;
  }

  /** Whether sampled subscribers report their deliveries' latency (during a latency run). */
  get sampling(): boolean {
    return this.samplingOn;
  }

  set sampling(on: boolean) {
    this.samplingOn = on;
    this.onSamplingChange?.(on);
  }

  /** One delivery; `sample` is given by sampled subscribers while `sampling`. */
  onDelivery(sample?: LatencySample): void {
    if (sample !== undefined && this.sampling) this.samples.push(sample);
    this.onDeliveries(1);
  }

  /** `count` deliveries counted elsewhere (the Go load client reports its totals). */
  onDeliveries(count: number): void {
    this.delivered += count;
    if (this.waiters.length > 0 && this.delivered >= (this.waiters[0]?.count ?? 0)) this.wake();
  }

  onFirstDelivery(): void {
    this.live += 1;
  }

  fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters = [];
  }

  /** Resolves once `count` deliveries have arrived in total; throws after `timeoutMs` or on a failure. */
  async waitFor(count: number, timeoutMs: number): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.delivered < count) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve, reject) => {
        const waiter = { count, resolve };
        this.waiters.push(waiter);
        this.waiters.sort((a, b) => a.count - b.count);
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((other) => other !== waiter);
          reject(new Error(`only ${this.delivered} of ${count} deliveries after ${timeoutMs} ms`));
        }, timeoutMs);
      }).finally(() => clearTimeout(timer));
    }
    if (this.failure) throw this.failure;
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.delivered >= (this.waiters[0]?.count ?? 0))
      this.waiters.shift()?.resolve();
  }
}

/** Handles one frame that is not a delivery: protocol messages of graphql-ws. */
function onProtocolFrame(
  send: (text: string) => void,
  frame: string,
  tracker: DeliveryTracker,
  onAck: () => void,
): void {
  const message = JSON.parse(frame) as { type?: string; payload?: unknown };
  switch (message.type) {
    case 'connection_ack':
      onAck();
      return;
    case 'ping':
      send('{"type":"pong"}');
      return;
    case 'pong':
      return;
    default:
      tracker.fail(new Error(`subscriber got ${frame.slice(0, 300)}`));
  }
}

/**
 * Opens one subscriber and resolves when its subscription is sent (graphql-ws) or the socket is
 * open (raw). Deliveries are counted by `tracker`; `sampled` subscribers also report their
 * latency. The graphql-ws protocol is spoken by hand, so that the client's own cost per delivery
 * stays a byte scan (the load client must not be the bottleneck of the server it measures).
 */
export function openSubscriber(
  spec: SubscriberSpec,
  tracker: DeliveryTracker,
  sampled = false,
): Promise<Subscriber> {
  if (spec.kind === 'sse') return openSseSubscriber(spec, tracker, sampled);
  if (spec.kind === 'legacy-sse') return openLegacySseSubscriber(spec, tracker, sampled);
  return openSocketSubscriber(spec, tracker, sampled);
}

/** Handles one frame of the legacy topic socket that is not a delivery. */
function onLegacyFrame(
  send: (text: string) => void,
  frame: string,
  topic: string,
  tracker: DeliveryTracker,
  onSubscribed: () => void,
): void {
  const message = JSON.parse(frame) as { type?: string; success?: boolean };
  switch (message.type) {
    case 'connection_established':
      send(JSON.stringify({ action: 'subscribe', data: { topics: [topic] } }));
      return;
    case 'subscription_confirmed':
      if (message.success) onSubscribed();
      else tracker.fail(new Error(`legacy subscribe refused: ${frame.slice(0, 300)}`));
      return;
    case 'pong':
      return;
    default:
      tracker.fail(new Error(`legacy subscriber got ${frame.slice(0, 300)}`));
  }
}

/**
 * The publish time a benchmark frame carries (bytes `start`..`end` of `data`), in CLOCK_MONOTONIC
 * ms (bench-clock.ts).
 */
function sentAtOf(data: Buffer, start: number, end: number): number {
  const at = data.indexOf(SENT_AT_BYTES, start);
  if (at < 0 || at >= end) return Number.NaN;
  const from = at + SENT_AT_BYTES.length;
  return Number.parseFloat(data.toString('latin1', from, Math.min(end, from + 32)));
}

function openSocketSubscriber(
  spec: Extract<SubscriberSpec, { kind: 'graphql-ws' | 'raw' | 'legacy-ws' }>,
  tracker: DeliveryTracker,
  sampled: boolean,
): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    let socket: LeanSocket | undefined;
    let received = 0;
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      if (error) {
        reject(error);
        void socket?.close();
      } else if (socket) {
        const open = socket;
        resolve({ close: () => open.close(1000) });
      }
    };
    const send = (text: string) => socket?.send(text);
    const onMessage = (data: Buffer, start: number, end: number, receivedAt: number) => {
      // Every benchmark payload has a pad: one bounded scan tells a delivery from anything else.
      const pad = data.indexOf(PAD_BYTES, start);
      if (pad >= 0 && pad < end) {
        tracker.lastFrameAt = receivedAt;
        if (received++ === 0) tracker.onFirstDelivery();
        const word = pad + PAD_BYTES.length;
        if (data.compare(PROBE_BYTES, 0, PROBE_BYTES.length, word, word + PROBE_BYTES.length) === 0)
          tracker.probes += 1;
        else if (sampled && tracker.sampling)
          tracker.onDelivery(sampleOf(sentAtOf(data, start, end), receivedAt));
        else tracker.onDelivery();
        return;
      }
      const frame = data.toString('utf8', start, end);
      if (spec.kind === 'legacy-ws') {
        onLegacyFrame(send, frame, spec.topic, tracker, () => settle());
        return;
      }
      onProtocolFrame(send, frame, tracker, () => {
        if (spec.kind !== 'graphql-ws') return;
        send(
          JSON.stringify({
            id: '1',
            type: 'subscribe',
            payload: { query: spec.query, variables: spec.variables },
          }),
        );
        settle();
      });
    };
    connectLean(spec.url, spec.kind === 'graphql-ws' ? 'graphql-transport-ws' : undefined, {
      onOpen: (open) => {
        socket = open;
        if (spec.kind === 'graphql-ws')
          open.send(JSON.stringify({ type: 'connection_init', payload: spec.connectionParams ?? {} }));
        else if (spec.kind === 'raw') settle();
        // legacy-ws: the server speaks first (connection_established).
      },
      onMessage,
      // Before the subscription is sent a failure only rejects (openSubscribers retries); after
      // it, the run has lost a subscriber and fails.
      onError: (error) => {
        if (settled) tracker.fail(error);
        else settle(error);
      },
      onClose: (code, reason) => {
        const error = new Error(`subscriber socket closed: ${code} ${reason}`);
        if (!settled) settle(error);
        else if (code !== 1000 && code !== 1005) tracker.fail(error);
      },
    }).catch((error: unknown) => settle(error instanceof Error ? error : new Error(String(error))));
  });
}

/** Attempts per subscriber: a busy shared machine can miss graphql-ws's 3 s `connection_init` window. */
const ATTEMPTS = 3;

/**
 * Opens many subscribers, `concurrency` handshakes at a time (a burst of thousands trips SYN
 * backlogs and init timeouts), retrying a handshake that fails before its subscription is sent.
 */
export async function openSubscribers(
  specs: readonly SubscriberSpec[],
  tracker: DeliveryTracker,
  concurrency = 50,
): Promise<Subscriber[]> {
  const sockets: Subscriber[] = new Array(specs.length);
  let next = 0;
  const open = async (spec: SubscriberSpec, index: number): Promise<Subscriber> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await openSubscriber(spec, tracker, tracker.isSampled(index));
      } catch (error) {
        if (attempt >= ATTEMPTS) throw error;
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(concurrency, specs.length) }, async () => {
      while (next < specs.length) {
        const index = next++;
        sockets[index] = await open(specs[index] as SubscriberSpec, index);
      }
    }),
  );
  return sockets;
}

/** Closes the subscribers normally and waits until they are gone. */
export async function closeSubscribers(subscribers: readonly Subscriber[]): Promise<void> {
  await Promise.all(subscribers.map((subscriber) => subscriber.close()));
}

/**
 * Reads an event stream: each event (it ends with a blank line; several may arrive in one chunk,
 * one may span two) that carries a benchmark payload is counted by `tracker`, any other goes to
 * `other`. A string scan, as for the sockets; a `sampled` stream reports the latency of its
 * events from the time their chunk arrived.
 */
function eventReader(
  tracker: DeliveryTracker,
  sampled: boolean,
  other: (event: string) => void,
): (chunk: string) => void {
  let received = 0;
  let rest = '';
  return (chunk) => {
    const receivedAt = performance.now();
    rest += chunk;
    let end = rest.indexOf('\n\n');
    while (end >= 0) {
      const event = rest.slice(0, end);
      rest = rest.slice(end + 2);
      end = rest.indexOf('\n\n');
      const pad = event.indexOf(PAD);
      if (pad < 0) {
        other(event);
        continue;
      }
      tracker.lastFrameAt = receivedAt;
      if (received++ === 0) tracker.onFirstDelivery();
      if (event.startsWith(PROBE_WORD, pad + PAD.length)) tracker.probes += 1;
      else if (sampled && tracker.sampling) {
        const at = event.indexOf(SENT_AT);
        tracker.onDelivery(sampleOf(Number.parseFloat(event.slice(at + SENT_AT.length)), receivedAt));
      } else tracker.onDelivery();
    }
  };
}

/**
 * Sends one HTTP request and resolves with its streamed response once the headers are in (200),
 * the response's chunks going to `onChunk`; `close()` ends the request and waits until it is gone.
 */
function openEventStream(
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string | number>; body?: string },
  tracker: DeliveryTracker,
  onChunk: (chunk: string) => void,
): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: init.method, headers: init.headers }, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`SSE subscriber answered ${response.statusCode}`));
        response.resume();
        return;
      }
      let closing = false;
      response.setEncoding('latin1');
      response.on('data', onChunk);
      response.on('error', (error) => {
        if (!closing) tracker.fail(error);
      });
      const ended = new Promise<void>((done) => response.once('close', () => done()));
      resolve({
        close: () => {
          closing = true;
          request.destroy();
          return ended;
        },
      });
    });
    request.on('error', reject);
    request.end(init.body);
  });
}

/** A GraphQL-over-SSE subscriber: resolves once the response's headers are in. */
function openSseSubscriber(
  spec: Extract<SubscriberSpec, { kind: 'sse' }>,
  tracker: DeliveryTracker,
  sampled: boolean,
): Promise<Subscriber> {
  const body = JSON.stringify({ query: spec.query, variables: spec.variables });
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    accept: 'text/event-stream',
  };
  const read = eventReader(tracker, sampled, (event) => {
    if (event.startsWith('event: complete')) tracker.fail(new Error('SSE subscription completed'));
  });
  return openEventStream(spec.url, { method: 'POST', headers, body }, tracker, read);
}

/**
 * A legacy SSE subscriber: opens `GET /sse/stream?token=`, reads its `connection_established`
 * event, subscribes the topic with `POST /sse/subscribe`, and resolves once that is accepted.
 */
async function openLegacySseSubscriber(
  spec: Extract<SubscriberSpec, { kind: 'legacy-sse' }>,
  tracker: DeliveryTracker,
  sampled: boolean,
): Promise<Subscriber> {
  let established: (connectionId: string) => void = () => undefined;
  const connectionId = new Promise<string>((resolve) => {
    established = resolve;
  });
  const read = eventReader(tracker, sampled, (event) => {
    if (event.startsWith(':')) return; // heartbeat comment
    const data = /^data: (.*)$/m.exec(event)?.[1] ?? '';
    if (event.startsWith('event: connection_established'))
      established((JSON.parse(data) as { connection_id: string }).connection_id);
    else tracker.fail(new Error(`legacy SSE subscriber got ${event.slice(0, 300)}`));
  });
  const token = encodeURIComponent(spec.token);
  const stream = await openEventStream(
    `${spec.url}/sse/stream?token=${token}`,
    { method: 'GET', headers: { accept: 'text/event-stream' } },
    tracker,
    read,
  );
  try {
    const id = await Promise.race([
      connectionId,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no connection_established within 30 s')), 30_000).unref(),
      ),
    ]);
    const response = await fetch(`${spec.url}/sse/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.token}` },
      body: JSON.stringify({ connection_id: id, topic: spec.topic }),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`POST /sse/subscribe answered ${response.status}: ${text}`);
  } catch (error) {
    await stream.close();
    throw error;
  }
  return stream;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Publishes probe rounds until every subscriber has had a probe (only then is every subscription
 * live). `probe` publishes one round and returns how many probe frames it should bring; each
 * round is let arrive (or 30 s pass) before the next, so that probes never pile up in a slow
 * server. Then waits until no frame has come for half a second, so that no probe is still being
 * delivered when a measured window starts. Set-up only: polling is fine here.
 */
export async function waitUntilLive(
  tracker: DeliveryTracker,
  subscribers: number,
  probe: () => Promise<number>,
  timeoutMs = 300_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (tracker.live < subscribers) {
    if (tracker.failure) throw tracker.failure;
    if (performance.now() > deadline)
      throw new Error(`only ${tracker.live} of ${subscribers} subscribers live after ${timeoutMs / 1000} s`);
    const before = tracker.probes;
    const expected = await probe();
    const roundEnd = performance.now() + 30_000;
    while (tracker.probes < before + expected && !tracker.failure && performance.now() < roundEnd)
      await sleep(50);
  }
  while (performance.now() - tracker.lastFrameAt < 500) await sleep(100);
}
