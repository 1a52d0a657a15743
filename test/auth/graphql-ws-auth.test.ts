import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { BAD_TOKENS, hmacKeySource, jwksKeySource, type KeySource } from './key-sources.ts';

describe.each([
  ['JWT_SECRET (HS256)', hmacKeySource],
  ['JWT_JWKS_URL (RS256)', () => jwksKeySource()],
])('auth over graphql-ws with %s', (_name, makeSource) => {
  let source: KeySource;
  let server: TestApp;
  beforeAll(async () => {
    source = await makeSource();
    server = await startTestApp({ env: source.env });
  });
  afterAll(async () => {
    await server?.stop();
    await source?.stop();
  });

  it.each(BAD_TOKENS)(
    '%s: closed with 4403 at connect, saying why, before any data',
    async (_case, make, expected) => {
      const token = await make(source);
      const { client, closes } = connectWs(server.wsUrl, {
        connectionParams: { authorization: `Bearer ${token}` },
      });
      try {
        const subscription = subscribeWs(client, 'subscription { serverTime(every: "100ms") }');
        const close = await closes.next(5_000, 'the close of a refused connection');
        expect(close.code).toBe(4403);
        expect(close.reason).toMatch(/^UNAUTHENTICATED: /);
        const said = close.reason.slice('UNAUTHENTICATED: '.length);
        // Close reasons are cut to 123 bytes; the start of the message must match.
        expect(`${said.replace(/…$/, '')}`).toMatch(new RegExp(expected(source).source.replace(/\$$/, '')));
        expect(close.reason).not.toContain(token.slice(0, 40));
        await expect(subscription.done).rejects.toBeDefined();
        expect(subscription.results.pending).toEqual([]);
      } finally {
        await client.dispose();
      }
    },
  );

  it('accepts the token as connectionParams.token and as a bare authorization value', async () => {
    const token = await source.sign({ sub: 'carol', tenantId: 'tenant-c' });
    for (const connectionParams of [
      { token },
      { authorization: token },
      { authorization: `bearer ${token}` },
    ]) {
      const { client } = connectWs(server.wsUrl, { connectionParams });
      try {
        const query = subscribeWs(client, '{ viewer { userId tenantId } }');
        expect(await query.results.next()).toEqual({
          data: { viewer: { userId: 'carol', tenantId: 'tenant-c' } },
        });
      } finally {
        await client.dispose();
      }
    }
  });

  it('a non-string connectionParams.authorization is refused with 4403 naming the field', async () => {
    const { client, closes } = connectWs(server.wsUrl, { connectionParams: { authorization: 42 } });
    try {
      subscribeWs(client, '{ viewer { userId } }');
      expect(await closes.next()).toEqual({
        code: 4403,
        reason: 'UNAUTHENTICATED: connectionParams.authorization must be a string "Bearer <token>"',
      });
    } finally {
      await client.dispose();
    }
  });

  it('without a token: serverTime and viewer work, a guarded subscription is UNAUTHENTICATED', async () => {
    const { client } = connectWs(server.wsUrl);
    try {
      const ticks = subscribeWs(client, 'subscription { serverTime(every: "100ms") }');
      expect((await ticks.results.next()).data?.serverTime).toMatch(/^\d{4}-/);
      ticks.unsubscribe();
      const viewer = subscribeWs(client, '{ viewer { userId } }');
      expect(await viewer.results.next()).toEqual({ data: { viewer: null } });
      const guarded = subscribeWs(client, 'subscription { topicMessages(topics: ["prices"]) { topic } }');
      const failure = await guarded.results.next().then(
        (result) => result.errors,
        (error: unknown) => error,
      );
      expect(failure).toEqual([
        {
          message: 'a token is required for topicMessages',
          extensions: { code: 'UNAUTHENTICATED', reason: 'MISSING_TOKEN' },
        },
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('a connection whose token expires is closed with 4403 after data flowed', async () => {
    const token = await source.sign({ expiresIn: 2 });
    const { client, closes } = connectWs(server.wsUrl, {
      connectionParams: { authorization: `Bearer ${token}` },
    });
    try {
      const ticks = subscribeWs(client, 'subscription { serverTime(every: "200ms") }');
      expect((await ticks.results.next()).data?.serverTime).toMatch(/^\d{4}-/);
      const close = await closes.next(5_000, 'the close at token expiry');
      expect(close.code).toBe(4403);
      expect(close.reason).toMatch(/^UNAUTHENTICATED: token expired at \d{4}-/);
    } finally {
      await client.dispose();
    }
  });
});
