import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postMonitor, uniqueDevice } from '../helpers/devices.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/** No input can overflow a stack or reach Postgres as text it refuses. */

const INGEST = `mutation($deviceId: ID!, $messages: [JSON!]!) { ingest(deviceId: $deviceId, messages: $messages) { accepted } }`;
const PUBLISH = `mutation($stateId: ID!, $entries: [JSONObject!]!) {
  publishStateEntries(stateId: $stateId, entries: $entries) { accepted }
}`;

/** `{"a":{"a":…{"a":1}}}`, `levels` objects deep, built without recursion. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { a: 1 };
  for (let level = 1; level < levels; level += 1) value = { a: value };
  return value;
}

/** The same as raw JSON text, for bodies too deep for JSON.stringify. */
function nestedText(levels: number): string {
  return `${'{"a":'.repeat(levels - 1)}{"a":1}${'}'.repeat(levels - 1)}`;
}

async function postGraphql(server: TestApp, body: string) {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body,
  });
  return {
    status: response.status,
    body: (await response.json()) as { data?: unknown; errors?: Array<Record<string, unknown>> },
  };
}

async function refusals(server: TestApp, limit: string): Promise<number> {
  const text = await server.app.services.metrics.registry.metrics();
  const match = new RegExp(`^limit_refusals_total\\{limit="${limit}"\\} (\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

describe('bounded input (MAX_JSON_DEPTH 64, MAX_DOCUMENT_TOKENS 2000)', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp();
  });
  afterAll(() => server?.stop());

  describe('JSON nesting', () => {
    it('ingest: data 60 levels deep is accepted; 100,000 deep is BAD_USER_INPUT naming the limit (HTTP 400)', async () => {
      const device = uniqueDevice();
      const good = await server.graphql(INGEST, { deviceId: device, messages: [{ data: nested(60) }] });
      expect(good).toEqual({ data: { ingest: { accepted: 1 } } });

      const before = await refusals(server, 'MAX_JSON_DEPTH');
      const body = `{"query":${JSON.stringify(INGEST)},"variables":{"deviceId":"${device}","messages":[{"data":${nestedText(100_000)}}]}}`;
      const bad = await postGraphql(server, body);
      expect(bad.status).toBe(400);
      expect(bad.body.errors?.[0]).toMatchObject({
        message: expect.stringMatching(
          /^variable "\$messages" is nested more than 64 levels deep at \[0\]\.data\.a\.a.* \(MAX_JSON_DEPTH\)$/,
        ),
        extensions: { code: 'BAD_USER_INPUT', limit: 'MAX_JSON_DEPTH' },
      });
      expect(await refusals(server, 'MAX_JSON_DEPTH')).toBe(before + 1);
      const count = await server.graphql<{ device: { messageCount: number } }>(
        'query($id: ID!) { device(id: $id) { messageCount } }',
        { id: device },
      );
      expect(count.data?.device.messageCount).toBe(1);
    });

    it('publishStateEntries: an entry 50 deep is stored; 50,000 deep is BAD_USER_INPUT', async () => {
      const stateId = `bounds-${Date.now()}`;
      expect(
        (await server.graphql(`mutation { createState(input: { id: "${stateId}" }) { id } }`)).errors,
      ).toBeUndefined();
      const good = await server.graphql(PUBLISH, { stateId, entries: [nested(50)] });
      expect(good).toEqual({ data: { publishStateEntries: { accepted: 1 } } });

      const body = `{"query":${JSON.stringify(PUBLISH)},"variables":{"stateId":"${stateId}","entries":[${nestedText(50_000)}]}}`;
      const bad = await postGraphql(server, body);
      expect(bad.status).toBe(400);
      expect(bad.body.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/^variable "\$entries" is nested more than 64 levels deep/),
        extensions: { code: 'BAD_USER_INPUT', limit: 'MAX_JSON_DEPTH' },
      });
    });

    it('a literal argument nested deeper than the limit is refused at validation', async () => {
      const deep = `${'['.repeat(70)}1${']'.repeat(70)}`;
      const bad = await server.graphql(
        `mutation { ingest(deviceId: "${uniqueDevice()}", messages: [{ data: ${deep} }]) { accepted } }`,
      );
      expect(bad.errors?.[0]).toMatchObject({
        message: expect.stringMatching(
          /^argument "messages" is nested more than 64 levels deep at \[0\]\.data/,
        ),
        extensions: { code: 'BAD_USER_INPUT', limit: 'MAX_JSON_DEPTH' },
      });
      const shallow = `${'['.repeat(10)}1${']'.repeat(10)}`;
      const good = await server.graphql(
        `mutation { ingest(deviceId: "${uniqueDevice()}", messages: [{ data: ${shallow} }]) { accepted } }`,
      );
      expect(good).toEqual({ data: { ingest: { accepted: 1 } } });
    });

    it('POST /monitor/{device}: 60 deep is accepted; 100,000 deep is 400 naming the event and the limit', async () => {
      const device = uniqueDevice();
      expect(await postMonitor(server, device, [{ data: nested(60) }])).toEqual({
        status: 200,
        body: { accepted: 1 },
      });
      const bad = await postMonitor(server, device, `[{"data":{}},{"data":${nestedText(100_000)}}]`, {
        raw: true,
      });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({
        error: 'BAD_USER_INPUT',
        index: 1,
        limit: 'MAX_JSON_DEPTH',
        message: expect.stringMatching(/^event 1 is nested more than 64 levels deep at \.data\.a/),
      });
      // The same over NDJSON, one event per line.
      const ndjson = await postMonitor(server, device, `{"data":1}\n{"data":${nestedText(100_000)}}\n`, {
        contentType: 'application/x-ndjson',
      });
      expect(ndjson).toMatchObject({ status: 400, body: { index: 1, limit: 'MAX_JSON_DEPTH' } });
    });
  });

  // Broker messages out of bounds: test/integration/broker-message-bounds.test.ts (real brokers).

  describe('text Postgres refuses', () => {
    it('a device id with NUL is 400 on the monitor route and BAD_USER_INPUT on ingest, naming the id', async () => {
      const answer = await postMonitor(server, 'bad%00id', [{ data: {} }]);
      expect(answer).toMatchObject({
        status: 400,
        body: {
          error: 'BAD_USER_INPUT',
          message: 'the device id contains a NUL character (\\u0000), which cannot be stored',
        },
      });
      const result = await server.graphql(INGEST, { deviceId: 'bad\u0000id', messages: [{}] });
      expect(result.errors?.[0]).toMatchObject({
        message: 'variable "$deviceId" contains a NUL character (\\u0000), which cannot be stored',
        extensions: { code: 'BAD_USER_INPUT' },
      });
    });

    it.each([
      [
        'NUL in a value',
        { data: { note: 'a\u0000b' } },
        /contains a NUL character \(\\u0000\) at \.data\.note/,
      ],
      [
        'NUL in a key',
        { data: { 'k\u0000': 1 } },
        /contains a NUL character \(\\u0000\) at \.data\["k\\u0000"\]/,
      ],
      ['a lone surrogate', { data: ['\uD800'] }, /contains an unpaired UTF-16 surrogate at \.data\[0\]/],
    ])('monitor event with %s: 400 naming the event and the place', async (_name, event, message) => {
      const answer = await postMonitor(server, uniqueDevice(), [{ data: 1 }, event]);
      expect(answer).toMatchObject({ status: 400, body: { error: 'BAD_USER_INPUT', index: 1 } });
      expect(answer.body.message).toMatch(/^event 1 /);
      expect(answer.body.message).toMatch(message);
    });

    it('state entries with NUL are refused; a proper surrogate pair (emoji) and other control text are stored', async () => {
      const stateId = `text-${Date.now()}`;
      await server.graphql(`mutation { createState(input: { id: "${stateId}" }) { id } }`);
      const bad = await server.graphql(PUBLISH, { stateId, entries: [{ ok: 1 }, { note: 'x\u0000' }] });
      expect(bad.errors?.[0]).toMatchObject({
        message: 'variable "$entries" contains a NUL character (\\u0000) at [1].note, which cannot be stored',
        extensions: { code: 'BAD_USER_INPUT' },
      });
      const good = await server.graphql(PUBLISH, { stateId, entries: [{ note: '😀 tab\there \u0001' }] });
      expect(good).toEqual({ data: { publishStateEntries: { accepted: 1 } } });
    });
  });

  describe('document tokens', () => {
    const deepOfType = `{ __type(name: "Query") { ${'ofType { '.repeat(2000)}name${' }'.repeat(2000)} } }`;

    it('GraphiQL’s full introspection query is within the limit', async () => {
      const result = await server.graphql(
        getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, inputValueDeprecation: true }),
      );
      expect(result.errors).toBeUndefined();
      expect(result.data).toHaveProperty('__schema.queryType.name', 'Query');
    });

    it('ofType nested 2,000 deep is LIMIT_EXCEEDED naming MAX_DOCUMENT_TOKENS over HTTP (400)', async () => {
      const before = await refusals(server, 'MAX_DOCUMENT_TOKENS');
      const answer = await postGraphql(server, JSON.stringify({ query: deepOfType }));
      expect(answer.status).toBe(400);
      expect(answer.body.errors).toEqual([
        {
          message: 'the document has more than 2000 tokens (MAX_DOCUMENT_TOKENS)',
          extensions: { code: 'LIMIT_EXCEEDED', limit: 'MAX_DOCUMENT_TOKENS' },
        },
      ]);
      expect(await refusals(server, 'MAX_DOCUMENT_TOKENS')).toBe(before + 1);
    });

    it('the same over graphql-ws: an error for that operation, the connection stays', async () => {
      const { client } = connectWs(server.wsUrl);
      try {
        const refused = subscribeWs(client, deepOfType);
        await expect(refused.done).rejects.toEqual([
          expect.objectContaining({
            message: 'the document has more than 2000 tokens (MAX_DOCUMENT_TOKENS)',
            extensions: { code: 'LIMIT_EXCEEDED', limit: 'MAX_DOCUMENT_TOKENS' },
          }),
        ]);
        const fine = subscribeWs(client, '{ __typename }');
        expect(await fine.results.next(5_000, 'typename')).toEqual({ data: { __typename: 'Query' } });
      } finally {
        await client.dispose();
      }
    });
  });
});
