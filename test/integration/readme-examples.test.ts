import { readFile } from 'node:fs/promises';
import { Kind, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/** Every ```graphql block of the README, in order. */
async function readmeExamples(): Promise<string[]> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  return [...readme.matchAll(/^```graphql\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
}

/** What GraphiQL does with a document: one operation runs over HTTP, a subscription over graphql-ws. */
async function runAsWritten(
  server: TestApp,
  document: string,
): Promise<{ data?: unknown; errors?: unknown }> {
  const operations = parse(document).definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations[0]?.operation === 'subscription' && operations.length === 1) {
    const { client } = connectWs(server.wsUrl);
    try {
      const subscription = subscribeWs(client, document);
      const first = await subscription.results.next(10_000, 'the first result');
      subscription.unsubscribe();
      return first;
    } finally {
      await client.dispose();
    }
  }
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: document }),
  });
  return (await response.json()) as { data?: unknown; errors?: unknown };
}

// As the README's "Two commands" start it: dev mode on loopback, no token needed.
let server: TestApp;
beforeAll(async () => {
  server = await startTestApp({ database: 'postgres' });
});
afterAll(() => server.stop());

describe('the README', () => {
  it('has GraphQL examples', async () => {
    expect((await readmeExamples()).length).toBeGreaterThanOrEqual(2);
  });

  it('every GraphQL example runs as written against a started server', async () => {
    for (const example of await readmeExamples()) {
      const result = await runAsWritten(server, example);
      expect(result.errors, example).toBeUndefined();
      expect(result.data, example).toBeTruthy();
    }
  });

  it('the check can fail: a query and a subscription in one anonymous document are refused', async () => {
    const result = await runAsWritten(
      server,
      '{ health { status } }\nsubscription { serverTime(every: "1s") }',
    );
    expect(result.errors).toEqual([
      expect.objectContaining({ message: 'Could not determine what operation to execute.' }),
    ]);
  });
});
