import { afterAll, describe, expect, it } from 'vitest';
import { createProcessRunner } from '../helpers/streamgate-process.ts';
import { startTestApp } from '../helpers/test-app.ts';
import { signToken, startJwksServer } from '../helpers/tokens.ts';

const processes = createProcessRunner();
afterAll(() => processes.cleanup());
const startProcess = (env: Record<string, string>) => processes.start(env);

describe('dev mode (no JWT configuration)', () => {
  it('refuses to bind a non-loopback HOST without AUTH_DISABLED: exit 2 naming HOST', async () => {
    const run = startProcess({ HOST: '0.0.0.0', PORT: '0' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('config: HOST="0.0.0.0" is invalid: expected a loopback address');
  });

  it('warns and prints a dev token at start-up that the server accepts', async () => {
    const dir = await processes.tempDir('streamgate-dev-');
    const run = startProcess({ PORT: '0', PGLITE_DIR: dir });
    let url: string | undefined;
    let token: string | undefined;
    let warned = false;
    while (!url || !token || !warned) {
      const line = await run.lines.next(60_000, 'the dev-mode announcement');
      if (line.includes('streamgate is listening')) url = (JSON.parse(line) as { url: string }).url;
      if (line.includes('DEV MODE')) warned = true;
      if (/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/.test(line.trim())) token = line.trim();
    }
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { userId tenantId roles } }' }),
    });
    const body = (await response.json()) as { data: { viewer: { userId: string; roles: string[] } } };
    expect(body.data.viewer).toMatchObject({ userId: 'dev', tenantId: null });
    expect(body.data.viewer.roles).toEqual(expect.arrayContaining(['admin', 'publisher', 'writer']));
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('lets anonymous callers through, but a token that is given must be the dev one', async () => {
    const server = await startTestApp();
    try {
      expect(server.app.services.auth.mode).toBe('dev');
      expect(await server.graphql('{ topics { name } viewer { userId } }')).toEqual({
        data: { topics: [], viewer: null },
      });
      const foreign = await signToken();
      const refused = await server.graphql('{ viewer { userId } }', {}, { token: foreign });
      expect(refused.errors?.[0]).toEqual({
        message: 'token signature is invalid',
        extensions: { code: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' },
      });
      const accepted = await server.graphql(
        '{ viewer { userId } }',
        {},
        { token: server.app.services.auth.devToken as string },
      );
      expect(accepted).toEqual({ data: { viewer: { userId: 'dev' } } });
    } finally {
      await server.stop();
    }
  });
});

describe('AUTH_DISABLED=true', () => {
  it('identifies nobody: tokens are ignored and every caller is anonymous', async () => {
    const server = await startTestApp({ env: { AUTH_DISABLED: 'true' } });
    try {
      expect(server.app.services.auth.devToken).toBeUndefined();
      const result = await server.graphql('{ viewer { userId } topics { name } }', {}, { token: 'garbage' });
      expect(result).toEqual({ data: { viewer: null, topics: [] } });
      await expect(server.app.services.auth.authenticate(undefined)).resolves.toBeNull();
    } finally {
      await server.stop();
    }
  });
});

describe('JWKS keys', () => {
  it('are fetched once, cached, and refetched when a token names an unknown kid', async () => {
    const jwks = await startJwksServer({ alg: 'ES256' });
    const server = await startTestApp({ env: jwks.env({ JWT_JWKS_COOLDOWN: '0ms' }) });
    try {
      const query = '{ viewer { userId } }';
      for (let round = 0; round < 3; round++) {
        expect(await server.graphql(query, {}, { token: await jwks.signToken() })).toEqual({
          data: { viewer: { userId: 'alice' } },
        });
      }
      expect(jwks.fetches).toBe(1);

      const rotated = await jwks.signWithUnknownKey({ sub: 'rotated' });
      const before = await server.graphql(query, {}, { token: rotated.token });
      expect(before.errors?.[0]?.message).toBe('no key of the JWKS matches the token (kid or algorithm)');
      rotated.publish();
      expect(await server.graphql(query, {}, { token: rotated.token })).toEqual({
        data: { viewer: { userId: 'rotated' } },
      });
      expect(jwks.fetches).toBe(3);
    } finally {
      await server.stop();
      await jwks.stop();
    }
  });

  it("an unreachable JWKS is UNAVAILABLE (503), not the caller's fault", async () => {
    const jwks = await startJwksServer();
    const token = await jwks.signToken();
    const env = jwks.env();
    await jwks.stop();
    const server = await startTestApp({ env });
    try {
      const response = await server.app.yoga.fetch('http://streamgate.test/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ query: '{ viewer { userId } }' }),
      });
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        errors: [
          {
            message: 'the signing keys (JWT_JWKS_URL) could not be fetched',
            extensions: { code: 'UNAVAILABLE' },
          },
        ],
      });
    } finally {
      await server.stop();
    }
  });
});
