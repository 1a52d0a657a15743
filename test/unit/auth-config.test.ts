import { describe, expect, it } from 'vitest';
import { DEFAULT_MUTATION_ROLES, isLoopbackHost } from '../../src/config/auth.ts';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!!';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError)
      return error.problems.map((problem) => `${problem.variable}: ${problem.expected}`);
    throw error;
  }
  return [];
}

describe('auth config', () => {
  it('is dev mode on loopback when nothing is set', () => {
    const { auth } = loadConfig({});
    expect(auth).toMatchObject({
      mode: 'dev',
      clockSkewMs: 30_000,
      tenantClaim: 'tenant_id',
      rolesClaims: ['roles', 'realm_access.roles'],
      maxTokenBytes: 8192,
      mutationRoles: DEFAULT_MUTATION_ROLES,
    });
  });

  it('reads the JWT variables', () => {
    const { auth } = loadConfig({
      JWT_SECRET: SECRET,
      JWT_ISSUER: 'https://id.example/',
      JWT_AUDIENCE: 'a, b',
      JWT_CLOCK_SKEW: '5s',
      JWT_ALGORITHMS: 'HS512',
      JWT_TENANT_CLAIM: 'org.tenant',
      JWT_ROLES_CLAIMS: 'resource_access.streamgate.roles',
      MUTATION_ROLES: 'publishStateEntries=writer|admin; ingest=; publish=trader',
      HOST: '0.0.0.0',
    });
    expect(auth).toMatchObject({
      mode: 'jwt',
      issuer: 'https://id.example/',
      audience: ['a', 'b'],
      clockSkewMs: 5_000,
      algorithms: ['HS512'],
      tenantClaim: 'org.tenant',
      rolesClaims: ['resource_access.streamgate.roles'],
    });
    expect(auth.mutationRoles.publishStateEntries).toEqual(['writer', 'admin']);
    expect(auth.mutationRoles.ingest).toEqual([]);
    expect(auth.mutationRoles.publish).toEqual(['trader']);
    expect(auth.mutationRoles.setRoute).toEqual(['admin']);
  });

  it('defaults to the asymmetric algorithms with a JWKS', () => {
    const { auth } = loadConfig({ JWT_JWKS_URL: 'https://id.example/jwks' });
    expect(auth.algorithms).toContain('RS256');
    expect(auth.algorithms).toContain('ES256');
    expect(auth.algorithms).not.toContain('HS256');
  });

  it.each([
    [{ HOST: '0.0.0.0' }, 'HOST: a loopback address'],
    [{ HOST: '10.0.0.5' }, 'HOST: a loopback address'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET: at least 32 bytes'],
    [
      { JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://id.example/jwks' },
      'JWT_JWKS_URL: unset when JWT_SECRET is set',
    ],
    [{ JWT_SECRET: SECRET, AUTH_DISABLED: 'true' }, 'AUTH_DISABLED: unset or false'],
    [{ JWT_SECRET: SECRET, JWT_ALGORITHMS: 'RS256' }, 'JWT_ALGORITHMS: a list of HS256, HS384, HS512'],
    [{ JWT_SECRET: SECRET, JWT_ALGORITHMS: 'none' }, 'JWT_ALGORITHMS: a list of HS256'],
    [{ JWT_JWKS_URL: 'https://id.example/jwks', JWT_ALGORITHMS: 'HS256' }, 'JWT_ALGORITHMS: a list of RS256'],
    [{ JWT_JWKS_URL: 'ftp://id.example/jwks' }, 'JWT_JWKS_URL: a URL with scheme https or http'],
    [{ MUTATION_ROLES: 'publish:trader' }, 'MUTATION_ROLES: entries "mutation=role|role"'],
    [{ JWT_CLOCK_SKEW: 'soon' }, 'JWT_CLOCK_SKEW: a duration'],
  ])('rejects %j', (env, problem) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });

  it('never prints the secret when it is too short', () => {
    expect(() => loadConfig({ JWT_SECRET: 'hunter2' })).toThrow('JWT_SECRET="(7 bytes)"');
    expect(() => loadConfig({ JWT_SECRET: 'hunter2' })).not.toThrow(/hunter2/);
  });

  it('binds anywhere with AUTH_DISABLED=true', () => {
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_DISABLED: 'true' }).auth.mode).toBe('disabled');
  });

  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.10', false],
    ['example.com', false],
  ])('isLoopbackHost(%j) is %j', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
