/** Helpers for the device suites: posting to the HTTP monitor, building events, backends. */
import { randomBytes } from 'node:crypto';
import type { Broker } from '../../src/pubsub/broker.ts';
import { serviceUrl } from '../setup/services.ts';
import { AsyncQueue } from './async-queue.ts';
import type { TestApp, TestAppOptions } from './test-app.ts';

/** A device id no other test uses. */
export function uniqueDevice(prefix = 'dev'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export interface MonitorAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** POSTs a body to /monitor/{device} over real HTTP and reads the JSON answer. */
export async function postMonitor(
  server: TestApp,
  device: string,
  body: unknown,
  options: { contentType?: string; token?: string; query?: string; method?: string; raw?: boolean } = {},
): Promise<MonitorAnswer> {
  const response = await fetch(`${server.url}/monitor/${device}${options.query ?? ''}`, {
    method: options.method ?? 'POST',
    headers: {
      'content-type': options.contentType ?? 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: options.raw || typeof body === 'string' ? (body as string) : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed };
}

/** Starts a recording of the device (the GraphQL mutation); returns its id. */
export async function startRecordingOf(server: TestApp, device: string): Promise<string> {
  const started = await server.graphql<{ startRecording: { id: string } }>(
    'mutation($d: ID!) { startRecording(deviceId: $d) { id } }',
    { d: device },
  );
  const id = started.data?.startRecording.id;
  if (!id) throw new Error(`startRecording failed: ${JSON.stringify(started.errors)}`);
  return id;
}

/** The `X-Monitor-Seq` of each message on `subject`, as a live subscriber on the broker sees them. */
export function watchSequences(broker: Broker, subject: string) {
  const seen = new AsyncQueue<number>();
  const subscription = broker.subscribe(subject);
  void (async () => {
    for await (const message of subscription) seen.push(Number(message.headers['X-Monitor-Seq']));
  })();
  return { seen, ready: subscription.ready, stop: () => subscription.unsubscribe() };
}

/** `count` monitor events with increasing timestamps `stepMs` apart from `start`. */
export function monitorEvents(
  count: number,
  options: { start?: Date; stepMs?: number; from?: number; symbol?: string } = {},
): Array<Record<string, unknown>> {
  const start = options.start?.getTime() ?? Date.now();
  const from = options.from ?? 0;
  return Array.from({ length: count }, (_, index) => ({
    id: `e${from + index}`,
    type: 'signal',
    symbol: options.symbol ?? 'demo.Counter',
    timestamp: new Date(start + index * (options.stepMs ?? 1)).toISOString(),
    data: { n: from + index },
  }));
}

/** The app options of a backend: memory broker on PGlite, or NATS on Postgres. */
export type BackendName = 'memory' | 'nats';

export function backendOptions(
  backend: BackendName,
  env: Record<string, string> = {},
  natsUrl?: string,
): TestAppOptions {
  return backend === 'memory'
    ? { env }
    : {
        database: 'postgres',
        env: {
          BROKER: 'nats',
          NATS_URL: natsUrl ?? serviceUrl('nats'),
          BROKER_RECONNECT_MAX_WAIT: '500ms',
          ...env,
        },
      };
}

/** The backends the device suites run on: the embedded default, and the real NATS + Postgres. */
export const DEVICE_BACKENDS: readonly BackendName[] = ['memory', 'nats'];

const IMPORT_RECORDING = `mutation($input: ImportRecordingInput!, $messages: [RecordedMessageInput!]!) {
  importRecording(input: $input, messages: $messages) { id }
}`;
const APPEND_RECORDING = `mutation($id: ID!, $messages: [RecordedMessageInput!]!) {
  appendRecordingMessages(recordingId: $id, messages: $messages) { messageCount }
}`;

/**
 * Imports a recording of `count` exported message lines (`lines(from, n)` makes them) as the
 * CLI does, `chunk` lines a request; throws on any error, and unless every line was recorded.
 * Returns the recording's id.
 */
export async function importRecordingInChunks(
  server: TestApp,
  deviceId: string,
  count: number,
  chunk: number,
  lines: (from: number, count: number) => unknown[],
): Promise<string> {
  const first = await server.graphql<{ importRecording: { id: string } }>(IMPORT_RECORDING, {
    input: { deviceId },
    messages: lines(0, Math.min(chunk, count)),
  });
  if (first.errors || !first.data) throw new Error(`import failed: ${JSON.stringify(first.errors)}`);
  const id = first.data.importRecording.id;
  let recorded = Math.min(chunk, count);
  for (let from = chunk; from < count; from += chunk) {
    const next = await server.graphql<{ appendRecordingMessages: { messageCount: number } }>(
      APPEND_RECORDING,
      { id, messages: lines(from, Math.min(chunk, count - from)) },
    );
    if (next.errors || !next.data) throw new Error(`append failed: ${JSON.stringify(next.errors)}`);
    recorded = next.data.appendRecordingMessages.messageCount;
  }
  if (recorded !== count) throw new Error(`${recorded} of ${count} messages recorded`);
  return id;
}
