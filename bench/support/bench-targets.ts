import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { monotonicMs } from './bench-clock.ts';
import { type BenchServer, createDatabase } from './bench-servers.ts';
import { postJson } from './json-poster.ts';
import {
  type PinnedProcess,
  profileNodeArgs,
  SERVER_CORE,
  startPinned,
  startStreamgateProcess,
} from './pinned-process.ts';
import type { SubscriberSpec } from './ws-subscribers.ts';

/** The broker topic of the filtered case (TOPICS_FILE of the streamgate target). */
export const BENCH_TOPIC = 'bench.fanout';

/**
 * One event as the benchmark publishes it: `data` carries `sentAt`, its publish time in
 * CLOCK_MONOTONIC ms (bench-clock.ts), and `key` for topics.
 */
export interface BenchEvent {
  readonly timestamp: string;
  readonly data: { readonly key: string; readonly sentAt: number; readonly pad: string };
}

/**
 * How the fan-out case's subscribers reach streamgate: graphql-ws or GraphQL over SSE on one
 * device (fed by `POST /monitor/{device}`), or one broker topic (fed by
 * `POST /topics/{topic}/messages`, no filter) over graphql-ws, the legacy `/ws/stream` socket or
 * the legacy `/sse/stream`. The topic rows compare the transports over the same publish path.
 */
export type StreamgateTransport = 'graphql-ws' | 'sse' | 'topic' | 'legacy-ws' | 'legacy-sse';

/** The BENCH_TARGETS entry of each streamgate transport, and its row's name. */
const STREAMGATE_TARGETS: Readonly<Record<string, { transport: StreamgateTransport; name: string }>> = {
  streamgate: { transport: 'graphql-ws', name: 'streamgate' },
  'streamgate-sse': { transport: 'sse', name: 'streamgate sse' },
  'streamgate-topic': { transport: 'topic', name: 'streamgate topic graphql-ws' },
  'streamgate-legacy-ws': { transport: 'legacy-ws', name: 'streamgate topic legacy ws' },
  'streamgate-legacy-sse': { transport: 'legacy-sse', name: 'streamgate topic legacy sse' },
};

/** Row names: a streamgate transport's (above), possibly with a checkout's label, or a baseline's. */
export type TargetName = string;

/**
 * A server under test, running in its own process on the server core, with the ways to
 * subscribe to it and publish to it. The same workload drives all three.
 */
export interface BenchTarget {
  readonly name: TargetName;
  readonly process: PinnedProcess;
  /** Runs the fan-out case only (its filtered case would repeat another target's graphql-ws one). */
  readonly fanoutOnly?: boolean;
  /** A subscriber of the fan-out stream: the device's, or the bench topic's on topic transports. */
  deviceSubscriber(deviceId: string): SubscriberSpec;
  /** A subscriber of the topic whose data `key` equals `key`. */
  topicSubscriber(key: string): SubscriberSpec;
  publishDevice(deviceId: string, events: readonly BenchEvent[]): Promise<void>;
  publishTopic(events: readonly BenchEvent[]): Promise<void>;
}

export interface TargetOptions {
  readonly core: number;
  /** How fan-out subscribers connect to streamgate. @default 'graphql-ws' */
  readonly transport?: StreamgateTransport;
  /** Run the streamgate of this checkout instead of BENCH_STREAMGATE_DIR / this repository's. */
  readonly cwd?: string;
  /** Appended to the row's name (which checkout it measured). */
  readonly label?: string;
}

const DEVICE_QUERY = 'subscription($d: ID!) { deviceMessages(deviceId: $d) { seq timestamp data } }';

/** A graphql-ws subscriber of one device, the same document on streamgate and stock yoga. */
function graphqlWsDeviceSubscriber(ws: string): (deviceId: string) => SubscriberSpec {
  return (deviceId) => ({ kind: 'graphql-ws', url: ws, query: DEVICE_QUERY, variables: { d: deviceId } });
}

/**
 * streamgate as `npm start` runs it (src/main.ts, dev auth, memory broker) on the benchmark's
 * own Postgres, with the connection limit raised for thousands of sockets and one BROKER topic.
 */
export async function startStreamgate(postgres: BenchServer, options: TargetOptions): Promise<BenchTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'streamgate-bench-fanout-'));
  const topicsFile = join(dir, 'topics.yaml');
  writeFileSync(topicsFile, `topics:\n  - name: ${BENCH_TOPIC}\n    source: broker\n`);
  const server = await startStreamgateProcess(
    {
      GRAPHIQL: 'false',
      BROKER: 'memory',
      DATABASE_URL: await createDatabase(postgres.url, `bench_fanout_${Date.now().toString(36)}`),
      TOPICS_FILE: topicsFile,
      MAX_WS_CONNECTIONS: '30000',
      MAX_SSE_CONNECTIONS: '30000',
      // Topics need an identity even in dev mode: every topic subscriber is the dev user.
      MAX_CONNECTIONS_PER_USER: '30000',
      MUTATION_RATE: '1000000',
      MUTATION_BURST: '1000000',
      MAX_ALIASES: '1000',
      MAX_DOCUMENT_TOKENS: '100000',
      MAX_QUERY_COST: '1000000',
      // The legacy socket's subscribers send nothing once subscribed.
      ACCESS_HEARTBEAT_TIMEOUT: '3600',
    },
    {
      core: options.core,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      // Ready when it listens and has printed the dev token (stderr, either order), which topics need.
      ready:
        /streamgate is listening[\s\S]*Dev token[^\n]*\n(\S+)\n|Dev token[^\n]*\n(\S+)\n[\s\S]*streamgate is listening/,
    },
  );
  const token = server.match[1] ?? server.match[2];
  if (!token) throw new Error(`no dev token in the output of streamgate:\n${server.process.output()}`);
  const http = server.url;
  const ws = `${http.replace(/^http/, 'ws')}/graphql`;
  const transport = options.transport ?? 'graphql-ws';
  const entry = Object.values(STREAMGATE_TARGETS).find((target) => target.transport === transport);
  const auth = { authorization: `Bearer ${token}` };
  const topicQuery = (filtered: boolean) =>
    `subscription${filtered ? '($f: MessageFilter)' : ''} { topicMessages(topics: ["${BENCH_TOPIC}"]${filtered ? ', filter: $f' : ''}) { key timestamp data } }`;
  const fanoutSubscriber: Record<StreamgateTransport, (deviceId: string) => SubscriberSpec> = {
    'graphql-ws': graphqlWsDeviceSubscriber(ws),
    sse: (deviceId) => ({
      kind: 'sse',
      url: `${http}/graphql`,
      query: DEVICE_QUERY,
      variables: { d: deviceId },
    }),
    topic: () => ({
      kind: 'graphql-ws',
      url: ws,
      query: topicQuery(false),
      variables: {},
      connectionParams: auth,
    }),
    'legacy-ws': () => ({
      kind: 'legacy-ws',
      url: `${http.replace(/^http/, 'ws')}/ws/stream?token=${encodeURIComponent(token)}`,
      topic: BENCH_TOPIC,
    }),
    'legacy-sse': () => ({ kind: 'legacy-sse', url: http, token, topic: BENCH_TOPIC }),
  };
  const onTopic = transport === 'topic' || transport === 'legacy-ws' || transport === 'legacy-sse';
  return {
    name: `${entry?.name ?? 'streamgate'}${options.label ? ` ${options.label}` : ''}`,
    process: server.process,
    fanoutOnly: transport !== 'graphql-ws',
    deviceSubscriber: fanoutSubscriber[transport],
    topicSubscriber: (key) => ({
      kind: 'graphql-ws',
      url: ws,
      query: topicQuery(true),
      variables: { f: { equals: { key } } },
      connectionParams: auth,
    }),
    publishDevice: onTopic
      ? // The topic transports' fan-out stream: one batched publish per batch.
        async (_deviceId, events) => {
          await postJson(
            `${http}/topics/${encodeURIComponent(BENCH_TOPIC)}/messages`,
            events.map((event) => event.data),
            auth,
          );
        }
      : async (deviceId, events) => {
          await postJson(
            `${http}/monitor/${encodeURIComponent(deviceId)}`,
            events.map((event) => ({ id: '', type: 'signal', symbol: 'bench.Fanout', ...event })),
          );
        },
    // One request per batch: one aliased `publish` per message.
    publishTopic: async (events) => {
      const fields = events.map(
        (_, index) =>
          `m${index}: publish(topic: "${BENCH_TOPIC}", key: $k${index}, data: $d${index}) { accepted }`,
      );
      const variables = events.map((_, index) => `$k${index}: String, $d${index}: JSON!`);
      const body = (await postJson(
        `${http}/graphql`,
        {
          query: `mutation(${variables.join(', ')}) { ${fields.join(' ')} }`,
          variables: Object.fromEntries(
            events.flatMap((event, index) => [
              [`k${index}`, event.data.key],
              [`d${index}`, event.data],
            ]),
          ),
        },
        auth,
      )) as { errors?: unknown };
      if (body.errors) throw new Error(`publish failed: ${JSON.stringify(body.errors).slice(0, 500)}`);
    },
  };
}

/** A baseline server of bench/support/ (stock-yoga-server.ts or raw-ws-server.ts). */
async function startBaseline(
  name: TargetName,
  script: string,
  options: TargetOptions,
): Promise<{ server: PinnedProcess; port: number }> {
  const { process: server, match } = await startPinned({
    core: options.core,
    // BENCH_PROFILE_DIR profiles the baselines too, to compare their time with streamgate's.
    nodeArgs: [...profileNodeArgs(), script],
    env: { PORT: '0', NODE_ENV: 'production' },
    ready: /LISTENING (\d+)/,
  });
  if (!match[1]) throw new Error(`${name} printed no port`);
  return { server, port: Number(match[1]) };
}

function baselinePublishers(port: number) {
  const http = `http://127.0.0.1:${port}`;
  return {
    publishDevice: async (deviceId: string, events: readonly BenchEvent[]) => {
      await postJson(`${http}/publish/device/${encodeURIComponent(deviceId)}`, events);
    },
    publishTopic: async (events: readonly BenchEvent[]) => {
      await postJson(
        `${http}/publish/topic`,
        events.map((event) => ({ key: event.data.key, ...event })),
      );
    },
  };
}

/**
 * The target BENCH_TARGETS names on SERVER_CORE: a streamgate transport (streamgate,
 * streamgate-sse, streamgate-topic, streamgate-legacy-ws, streamgate-legacy-sse), each on the
 * benchmark's Postgres, which `postgres()` starts on first need, or a baseline (stock, raw).
 * `NAME@DIR` runs the streamgate of the checkout at DIR (e.g. the commit before a change, in the
 * same run), its rows labelled `@` and the directory's last part.
 */
export async function startTarget(name: string, postgres: () => BenchServer): Promise<BenchTarget> {
  const [base = name, cwd] = name.split('@');
  const streamgate = STREAMGATE_TARGETS[base];
  if (streamgate)
    return startStreamgate(postgres(), {
      core: SERVER_CORE,
      transport: streamgate.transport,
      ...(cwd ? { cwd, label: `@${basename(cwd)}` } : {}),
    });
  if (name === 'stock') return startStockYoga({ core: SERVER_CORE });
  if (name === 'raw') return startRawWs({ core: SERVER_CORE });
  throw new Error(
    `unknown BENCH_TARGETS entry ${name} (${Object.keys(STREAMGATE_TARGETS).join(', ')}, stock, raw; NAME@DIR)`,
  );
}

/** Baseline (b): stock graphql-yoga + graphql-ws + createPubSub with a documented `filter`. */
export async function startStockYoga(options: TargetOptions): Promise<BenchTarget> {
  const { server, port } = await startBaseline('stock yoga', 'bench/support/stock-yoga-server.ts', options);
  const ws = `ws://127.0.0.1:${port}/graphql`;
  return {
    name: 'stock yoga',
    process: server,
    deviceSubscriber: graphqlWsDeviceSubscriber(ws),
    topicSubscriber: (key) => ({
      kind: 'graphql-ws',
      url: ws,
      query: 'subscription($k: String!) { topicMessages(key: $k) { key timestamp data } }',
      variables: { k: key },
    }),
    ...baselinePublishers(port),
  };
}

/** Baseline (c), the ceiling: a bare ws server sending each event, serialized once, to every socket. */
export async function startRawWs(options: TargetOptions): Promise<BenchTarget> {
  const { server, port } = await startBaseline('raw ws', 'bench/support/raw-ws-server.ts', options);
  const ws = `ws://127.0.0.1:${port}/ws`;
  return {
    name: 'raw ws',
    process: server,
    deviceSubscriber: (deviceId) => ({ kind: 'raw', url: `${ws}?device=${encodeURIComponent(deviceId)}` }),
    topicSubscriber: (key) => ({ kind: 'raw', url: `${ws}?key=${encodeURIComponent(key)}` }),
    ...baselinePublishers(port),
  };
}

/** What the pad of a readiness probe starts with: subscribers count probes apart from deliveries. */
export const PROBE_PAD = 'probe';

/**
 * `count` events of about 200 bytes of data each, stamped now (their publish time). Probes
 * (`probe: true`) tell the load client that a subscriber is live and are not counted.
 */
export function benchEvents(count: number, keyOf: (index: number) => string, probe = false): BenchEvent[] {
  const sentAt = monotonicMs();
  const timestamp = new Date().toISOString();
  return Array.from({ length: count }, (_, index) => {
    const key = keyOf(index);
    // 200 bytes of JSON data: {"key":"k123","sentAt":12345.678901,"pad":"xxx…"}.
    const fixed = JSON.stringify({ key, sentAt, pad: '' }).length;
    const pad = (probe ? PROBE_PAD : '').padEnd(Math.max(0, 200 - fixed), 'x');
    return { timestamp, data: { key, sentAt, pad } };
  });
}
