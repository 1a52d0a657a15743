import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv } from '../helpers/tokens.ts';

/**
 * The GraphQL-over-HTTP spec's own audit (`graphql-http`'s serverAudits) against the real
 * server in JWT mode: every MUST and SHOULD passes; MAYs are reported by the library only.
 */
describe('GraphQL over HTTP audit', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp({ env: authEnv() });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const audits = serverAudits({ url: () => `${server.url}/graphql`, fetchFn: fetch });
  const required = audits.filter((audit) => /^(MUST|SHOULD) /.test(audit.name));

  it('has MUST and SHOULD audits to run', () => {
    expect(required.length).toBeGreaterThan(20);
  });

  it.each(required.map((audit) => [audit.name, audit] as const))('%s', async (_name, audit) => {
    const result = await audit.fn();
    expect(
      result.status === 'ok' ? 'ok' : `${result.status}: ${'reason' in result ? result.reason : ''}`,
    ).toBe('ok');
  });
});
