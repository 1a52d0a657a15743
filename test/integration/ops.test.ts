import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTopicsFile } from '../../src/domain/topics/topics-file.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const root = new URL('../..', import.meta.url).pathname;

describe('GET /metrics and GET /stats', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp();
  });
  afterAll(() => server.stop());

  it('serves the legacy metric names, process metrics and HTTP metrics in the Prometheus format', async () => {
    await fetch(`${server.url}/health`);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    for (const name of [
      'websocket_connections_total',
      'sse_connections_total',
      'messages_sent_total',
      'messages_received_total',
      'subscriptions_total',
      'kafka_messages_consumed_total',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'http_requests_total',
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('websocket_connections_total{transport="legacy_ws"} 0');
    expect(text).toMatch(/http_requests_total\{method="GET",route="\/health",status="200"\} [1-9]/);
  });

  it('labels unknown paths "other" so that random URLs cannot add series', async () => {
    await fetch(`${server.url}/no/such/path/${Date.now()}`);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/http_requests_total\{method="GET",route="other",status="404"\} [1-9]/);
    expect(text).not.toContain('/no/such/path');
  });

  it('labels a route with parameters by its declared path, also a request answered before the routes (CORS preflight)', async () => {
    const refused = await fetch(`${server.url}/topics/news/messages`);
    expect(refused.status).toBe(405);
    const preflight = await fetch(`${server.url}/topics/news/messages?key=k`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(
      /http_requests_total\{method="GET",route="\/topics\/:topic\/messages",status="405"\} [1-9]/,
    );
    expect(text).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/topics\/:topic\/messages"\} [1-9]/,
    );
    expect(text).toContain(
      `http_requests_total{method="OPTIONS",route="/topics/:topic/messages",status="${preflight.status}"} 1`,
    );
    expect(text).not.toContain('/topics/news');
  });

  it('serves /stats in the legacy shape and counts graphql-ws connections and messages', async () => {
    const before = (await (await fetch(`${server.url}/stats`)).json()) as Record<
      string,
      Record<string, unknown>
    >;
    expect(before).toEqual({
      websocket: { total_connections: 0, active_connections: 0, total_messages: 0, messages_per_second: 0 },
      sse: { total_connections: 0, active_connections: 0, total_messages: 0, messages_per_second: 0 },
      subscriptions: { total_topics: 0, active_subscriptions: 0, topics: {} },
      graphql: { active_subscriptions: 0, total_subscriptions: 0, by_transport: {}, by_root_field: {} },
      kafka: { consumers: 0, topics: [], messages_consumed: 0, group_id: 'streamgate-development' },
    });

    const { client } = connectWs(server.wsUrl);
    try {
      const subscription = subscribeWs(client, 'subscription { serverTime(every: "100ms") }');
      await subscription.results.take(3, 5_000, 'serverTime ticks');
      const stats = async () =>
        (await (await fetch(`${server.url}/stats`)).json()) as {
          websocket: {
            total_connections: number;
            active_connections: number;
            total_messages: number;
            messages_per_second: number;
          };
          graphql: Record<string, unknown>;
        };
      await waitUntil(async () => (await stats()).websocket.total_messages >= 3, 5_000, '3 messages counted');
      const { websocket } = await stats();
      expect(websocket.total_connections).toBe(1);
      expect(websocket.active_connections).toBe(1);
      expect(websocket.messages_per_second).toBeGreaterThan(0);
      expect((await stats()).graphql).toEqual({
        active_subscriptions: 1,
        total_subscriptions: 1,
        by_transport: { graphql_ws: 1 },
        by_root_field: { serverTime: 1 },
      });
      subscription.unsubscribe();
    } finally {
      await client.dispose();
    }
    await waitUntil(
      async () =>
        ((await (await fetch(`${server.url}/stats`)).json()) as { websocket: { active_connections: number } })
          .websocket.active_connections === 0,
      5_000,
      'the connection to be counted closed',
    );
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('websocket_connections_total{transport="graphql_ws"} 1');
    expect(metrics).toMatch(/messages_sent_total\{transport="graphql_ws"\} [3-9]/);
    expect(metrics).toContain('subscriptions_total{transport="graphql_ws"} 1');
    expect(metrics).toContain('open_subscriptions{root_field="serverTime",transport="graphql_ws"} 0');
  });
});

describe('TOPICS_FILE at start-up', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamgate-topics-file-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('stops the process with exit code 2, naming the entry and the problem', async () => {
    const file = join(dir, 'topics.yaml');
    await writeFile(file, 'topics:\n  - name: good.topic\n  - name: pricing.curve\n    source: kafak\n');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', PGLITE_DIR: join(dir, 'db'), PORT: '0', TOPICS_FILE: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(output).toContain(`TOPICS_FILE="${file}" is invalid`);
    expect(output).toContain('topics[1] ("pricing.curve"): source must be "kafka" or "broker", got "kafak"');
  });

  it('seeds the registry, replacing what an earlier file put there', async () => {
    const file = join(dir, 'seed.yaml');
    await writeFile(file, 'topics:\n  - name: one\n  - name: two\n    source: kafka\n');
    const first = await startTestApp({ env: { TOPICS_FILE: file }, database: 'postgres' });
    try {
      expect((await first.app.services.topics.registry.list()).map((topic) => topic.name)).toEqual([
        'one',
        'two',
      ]);
      await writeFile(file, 'topics:\n  - name: two\n    description: now on the broker\n');
      await first.app.services.topics.start(await readTopicsFile(file));
      expect(await first.app.services.topics.registry.list()).toEqual([
        {
          name: 'two',
          description: 'now on the broker',
          source: 'BROKER',
          kafkaTopic: null,
          requiredRoles: [],
          tenants: [],
        },
      ]);
    } finally {
      await first.stop();
    }
  });
});
