/**
 * Text that the recording rows' encodings must escape (COPY text on Postgres, the JSON rows on
 * PGlite): tab, newline, carriage return and backslash in every recorded column come back exactly
 * as posted; NUL, which neither Postgres text nor jsonb can hold, is refused with the request
 * whole (nothing of it recorded).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMonitor, uniqueDevice } from '../helpers/devices.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const START = 'mutation($d: ID!) { startRecording(deviceId: $d, includeBuffer: false) { id } }';
const MESSAGES = `query($id: ID!) {
  recording(id: $id) { messages(first: 100) { edges { node { seq eventId type symbol headers data } } } }
}`;

interface RecordedRow {
  readonly seq: number;
  readonly eventId: string;
  readonly type: string | null;
  readonly symbol: string | null;
  readonly headers: Record<string, string>;
  readonly data: unknown;
}

/** Each character COPY's text format treats specially, alone and together, and look-alikes of its escapes. */
const AWKWARD = [
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'back\\slash',
  '\\N',
  '\\t literally',
  'a\t\n\r\\b',
];

describe.each(['postgres', 'pglite'] as const)('recorded text that needs escaping (%s)', (database) => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp({ database });
  });
  afterAll(() => server?.stop());

  async function recordingOf(device: string): Promise<string> {
    const started = await server.graphql<{ startRecording: { id: string } }>(START, { d: device });
    expect(started.errors).toBeUndefined();
    return started.data?.startRecording.id as string;
  }

  async function recorded(id: string): Promise<RecordedRow[]> {
    const page = await server.graphql<{ recording: { messages: { edges: Array<{ node: RecordedRow }> } } }>(
      MESSAGES,
      { id },
    );
    expect(page.errors).toBeUndefined();
    return page.data?.recording.messages.edges.map((edge) => edge.node) ?? [];
  }

  it('tab, newline, carriage return and backslash in id, type, symbol, data keys and values come back as posted', async () => {
    const device = uniqueDevice();
    const id = await recordingOf(device);
    const events = AWKWARD.map((text, index) => ({
      id: `${text}#${index}`,
      type: text,
      symbol: text,
      data: { [text]: text, nested: [text, { deeper: text }], n: index },
    }));
    const answer = await postMonitor(server, device, events);
    expect(answer).toEqual({ status: 200, body: { accepted: AWKWARD.length } });

    const rows = await recorded(id);
    expect(rows.map((row) => [row.eventId, row.type, row.symbol, row.data])).toEqual(
      events.map((event) => [event.id, event.type, event.symbol, event.data]),
    );
    expect(rows.map((row) => row.headers['X-Monitor-Type'])).toEqual(AWKWARD);
    expect(rows.map((row) => row.headers['X-Monitor-Symbol'])).toEqual(AWKWARD);
    expect(rows.map((row) => row.seq)).toEqual(AWKWARD.map((_, index) => index + 1));
  });

  it.each([
    ['the data', { data: { note: 'a\u0000b' } }],
    ['the symbol', { symbol: 'x\u0000' }],
    ['the id', { id: '\u0000' }],
  ])('NUL in %s: 400 naming the event; nothing of the request is recorded', async (_where, bad) => {
    const device = uniqueDevice();
    const id = await recordingOf(device);
    const first = await postMonitor(server, device, [{ type: 'ok\tfirst', data: { n: 0 } }]);
    expect(first.status).toBe(200);

    const answer = await postMonitor(server, device, [{ data: { n: 1 } }, bad, { data: { n: 3 } }]);
    expect(answer).toMatchObject({ status: 400, body: { error: 'BAD_USER_INPUT', index: 1 } });
    expect(answer.body.message).toMatch(/^event 1 contains a NUL character/);

    const rows = await recorded(id);
    expect(rows.map((row) => [row.seq, row.type, row.data])).toEqual([[1, 'ok\tfirst', { n: 0 }]]);
  });
});
