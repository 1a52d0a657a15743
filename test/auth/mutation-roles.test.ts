import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { ConfigError } from '../../src/config/env-reader.ts';
import { buildApp } from '../../src/main/app.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';

const PUBLISH = 'mutation { publish(topic: "prices", data: { p: 1 }) { position } }';

describe('mutation roles (MUTATION_ROLES), enforced once for every mutation', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp({ env: authEnv({ MUTATION_ROLES: 'publish=trader|ops' }) });
  });
  afterAll(() => server?.stop());

  it('refuses a caller without the role with FORBIDDEN naming the roles, over HTTP', async () => {
    const token = await signToken({ roles: ['reader'] });
    const response = await server.app.yoga.fetch('http://streamgate.test/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        // The spec's media type keeps 403 for a refused request; application/json would be 200.
        accept: 'application/graphql-response+json',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query: PUBLISH }),
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      errors: [
        {
          message: 'mutation publish needs one of the roles "trader", "ops"',
          extensions: { code: 'FORBIDDEN', requiredRoles: ['trader', 'ops'] },
        },
      ],
    });
  });

  it('refuses it over graphql-ws the same way', async () => {
    const token = await signToken({ roles: ['reader'] });
    const { client } = connectWs(server.wsUrl, { connectionParams: { token } });
    try {
      const result = subscribeWs(client, PUBLISH);
      const answer = await result.results.next().then(
        (value) => value.errors,
        (error: unknown) => error,
      );
      expect(answer).toEqual([
        {
          message: 'mutation publish needs one of the roles "trader", "ops"',
          extensions: { code: 'FORBIDDEN', requiredRoles: ['trader', 'ops'] },
        },
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('lets a caller with one of the roles through to the domain', async () => {
    // Past the guard the domain applies its own rules: here the topic does not exist.
    const ops = await signToken({ roles: ['ops'] });
    const result = await server.graphql(PUBLISH, {}, { token: ops });
    expect(result.errors?.[0]).toMatchObject({
      message: 'topic "prices" not found',
      extensions: { code: 'NOT_FOUND' },
    });
  });

  it('checks the same document (root fields in a fragment) anew for every caller, in any order', async () => {
    const document = `mutation Send { ...Both } fragment Both on Mutation {
      __typename publish(topic: "prices", data: { p: 2 }) { position }
    }`;
    const ops = await signToken({ roles: ['ops'] });
    const reader = await signToken({ roles: ['reader'] });
    const answers = async (token?: string) => {
      const result = await server.graphql(document, {}, token ? { token } : {});
      return result.errors?.map((error) => [error.message, error.extensions?.code]);
    };
    for (const round of [1, 2]) {
      const callers = round === 1 ? [undefined, reader, ops] : [ops, reader, undefined];
      for (const token of callers) {
        const expected =
          token === undefined
            ? [['a token is required for publish', 'UNAUTHENTICATED']]
            : token === reader
              ? [['mutation publish needs one of the roles "trader", "ops"', 'FORBIDDEN']]
              : [['topic "prices" not found', 'NOT_FOUND']];
        expect(await answers(token), `round ${round}`).toEqual(expected);
      }
    }
  });

  it('a MUTATION_ROLES entry naming no mutation stops start-up with a ConfigError', async () => {
    const config = loadConfig({ ...authEnv(), MUTATION_ROLES: 'publsh=trader', LOG_LEVEL: 'silent' });
    const failure = await buildApp(config).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).message).toContain(
      'config: MUTATION_ROLES="publsh" is invalid: expected mutation names',
    );
  });
});
