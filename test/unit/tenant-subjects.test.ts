/**
 * Ids scoped per tenant (docs/auth.md, "Tenancy"): the subjects of a tenant's objects, and the
 * tenant names that may stand in them.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { tenantNameProblem } from '../../src/config/subject-syntax.ts';
import { viewerFromClaims } from '../../src/domain/auth/claims.ts';
import { TokenError } from '../../src/domain/auth/token-error.ts';
import { tenantKey, tenantOfKey } from '../../src/domain/viewer.ts';
import { splitTenant, subjects } from '../../src/pubsub/subjects.ts';

const NAMES = { tenantClaim: 'tenant_id', rolesClaims: ['roles'] };

describe('subjects of a tenant', () => {
  it('are the legacy subjects for the default tenant and prefixed with tenant.{tenant} for another', () => {
    expect(subjects.state(null, 's1')).toBe('processor.state.s1');
    expect(subjects.stateSession(null, 's1', 'x')).toBe('processor.state.s1.x');
    expect(subjects.monitor(null, 'd1')).toBe('monitor.d1');
    expect(subjects.state('acme', 's1')).toBe('tenant.acme.processor.state.s1');
    expect(subjects.stateSession('acme', 's1', 'x')).toBe('tenant.acme.processor.state.s1.x');
    expect(subjects.monitor('acme', 'd1')).toBe('tenant.acme.monitor.d1');
    expect(subjects.dataSource(null, 'ds1')).toBe('datasource.ds1');
    expect(subjects.dataSource('acme', 'ds1')).toBe('tenant.acme.datasource.ds1');
    expect(subjects.dataSourceProviders(null, 'ds1')).toBe('streamgate.datasource.ds1');
    expect(subjects.dataSourceProviders('acme', 'ds1')).toBe('streamgate.tenant.acme.datasource.ds1');
    expect(subjects.anyDataSource).toBe('datasource.*');
    expect(subjects.anyTenantDataSource).toBe('tenant.*.datasource.*');
  });

  it('split back into the tenant and the legacy subject (the inverse of inTenant)', () => {
    expect(splitTenant('tenant.acme.datasource.ds1')).toEqual({ tenant: 'acme', subject: 'datasource.ds1' });
    expect(splitTenant('datasource.ds1')).toEqual({ tenant: null, subject: 'datasource.ds1' });
    expect(splitTenant('processor.state.tenant')).toEqual({
      tenant: null,
      subject: 'processor.state.tenant',
    });
  });

  it('key the default tenant as "" in storage, which no tenant name can be', () => {
    expect(tenantKey(null)).toBe('');
    expect(tenantOfKey('')).toBeNull();
    expect(tenantOfKey(tenantKey('acme'))).toBe('acme');
    expect(tenantNameProblem('')).toBe('it is empty');
  });
});

describe('tenant names', () => {
  it.each(['acme', 'tenant-a', 'Org_42', 'a/b', 'ünïcode', '7'])('"%s" is one subject token', (name) => {
    expect(tenantNameProblem(name)).toBeUndefined();
    expect(viewerFromClaims({ sub: 'u', tenant_id: name }, NAMES).tenantId).toBe(name);
  });

  it.each([
    ['a dot', 'acme.processor'],
    ['a wildcard', '*'],
    ['a tail wildcard', '>'],
    ['a wildcard inside', 'ac*me'],
    ['white space', 'ac me'],
    ['a control character', 'ac\u0000me'],
  ])('a token whose tenant has %s is INVALID_TOKEN', (_what, name) => {
    expect(tenantNameProblem(name)).toBe(
      'it may not contain ".", "*", ">", white space or control characters',
    );
    let thrown: unknown;
    try {
      viewerFromClaims({ sub: 'u', tenant_id: name }, NAMES);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TokenError);
    expect(thrown).toMatchObject({
      reason: 'INVALID_TOKEN',
      message:
        'token has an invalid tenant claim: it may not contain ".", "*", ">", white space or control characters',
    });
  });

  it('a tenant longer than 128 characters is refused', () => {
    expect(tenantNameProblem('t'.repeat(128))).toBeUndefined();
    expect(tenantNameProblem('t'.repeat(129))).toBe('it is longer than 128 characters');
  });

  it('MONITOR_TENANT must be a tenant name too', () => {
    expect(loadConfig({ MONITOR_TENANT: 'public' }).devices.publicTenant).toBe('public');
    let thrown: unknown;
    try {
      loadConfig({ MONITOR_TENANT: 'pub.lic' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).problems).toEqual([
      expect.objectContaining({
        variable: 'MONITOR_TENANT',
        expected: 'a tenant name: one subject token, no ".", "*", ">" or white space',
      }),
    ]);
  });
});
