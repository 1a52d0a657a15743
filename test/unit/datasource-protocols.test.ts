import { describe, expect, it } from 'vitest';
import { parseNetworkRequest } from '../../src/domain/datasources/network-protocol.ts';
import type { Provider } from '../../src/domain/datasources/provider.ts';
import { createProviderRegistry } from '../../src/domain/datasources/provider-registry.ts';
import { closeCodeFor } from '../../src/server/close-codes.ts';
import { parseFrame, validate } from '../../src/server/legacy-datasource/protocol.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('datasource.{ds} requests (legacy.md A)', () => {
  it('reads the legacy request, echoing id and processId as sent', () => {
    expect(parseNetworkRequest(bytes('{"id":7,"processId":{"p":1},"operation":"op","payload":[1]}'))).toEqual(
      {
        ok: true,
        request: { id: 7, processId: { p: 1 }, operation: 'op', payload: [1] },
      },
    );
    expect(parseNetworkRequest(bytes('{"id":"r","payload":{}}'))).toEqual({
      ok: true,
      request: { id: 'r', processId: undefined, operation: null, payload: {} },
    });
  });

  it.each([
    ['\u00ff not json', 'the request is not JSON', undefined],
    ['[1]', 'the request is not a JSON object', undefined],
    ['{"payload":[]}', '"id" must be a non-empty string or a number', undefined],
    ['{"id":"","payload":[]}', '"id" must be a non-empty string or a number', undefined],
    ['{"id":"r","operation":5,"payload":[]}', '"operation" must be a string', 'r'],
    ['{"id":"r","payload":null}', '"payload" is required', 'r'],
  ])('refuses %j: %s', (text, message, requestId) => {
    expect(parseNetworkRequest(bytes(text))).toEqual({ ok: false, message, requestId });
  });
});

describe('the /ws/ds answer frame', () => {
  it('accepts the legacy answer, with an optional error', () => {
    expect(validate({ id: 'a', payload: [1], requestId: 'r' })).toEqual({
      ok: true,
      frame: { id: 'a', payload: [1], requestId: 'r' },
    });
    expect(validate({ id: 3, requestId: 'r', error: 'failed' })).toEqual({
      ok: true,
      frame: { id: '3', payload: null, requestId: 'r', error: 'failed' },
    });
  });

  it.each([
    [null, 'INVALID_FORMAT', 'not a JSON object'],
    [[], 'INVALID_FORMAT', 'not a JSON object'],
    [{ id: 'a' }, 'INVALID_FORMAT', '"requestId" is missing'],
    [{ requestId: 'r', id: {} }, 'INVALID_FORMAT', '"id" must be a string'],
    [{ requestId: 'r', error: true }, 'INVALID_FORMAT', '"error" must be a string'],
  ])('refuses %j with %s', (message, error, text) => {
    const result = validate(message);
    expect(result).toMatchObject({ ok: false, error });
    expect(result.ok ? '' : result.message).toContain(text);
  });

  it('tells non-JSON frames (text or binary) apart', () => {
    expect(parseFrame('{')).toMatchObject({ ok: false, error: 'INVALID_JSON' });
    expect(parseFrame(new Uint8Array([0xff, 0xfe]))).toMatchObject({ ok: false, error: 'INVALID_JSON' });
    expect(parseFrame(bytes('{"requestId":"r"}'))).toMatchObject({ ok: true });
  });

  it.each([
    ['BAD_USER_INPUT', 4400],
    ['UNAUTHENTICATED', 4401],
    ['FORBIDDEN', 4403],
    ['NOT_FOUND', 4404],
    ['LIMIT_EXCEEDED', 4429],
    ['UNAVAILABLE', 4503],
    ['INTERNAL', 1011],
    [undefined, 1011],
  ])('closes for %s with %d', (code, close) => {
    expect(closeCodeFor(code)).toBe(close);
  });
});

describe('provider selection', () => {
  const provider = (id: string, tenantId: string | null = null): Provider => ({
    id,
    dataSourceId: 'ds',
    identity: { tenantId, userId: null, connectionId: id },
    inFlight: 0,
    deliver: () => true,
  });
  const ds = { tenantId: null, dataSourceId: 'ds' };

  it('takes turns among idle providers and prefers the least busy', () => {
    const registry = createProviderRegistry();
    const [a, b, c] = [provider('a'), provider('b'), provider('c')];
    for (const p of [a, b, c]) registry.add(p);
    const none = new Set<string>();
    expect([1, 2, 3, 4].map(() => registry.pick(ds, none)?.id)).toEqual(['a', 'b', 'c', 'a']);
    a.inFlight = 2;
    b.inFlight = 1;
    expect(registry.pick(ds, none)?.id).toBe('c');
    c.inFlight = 3;
    expect(registry.pick(ds, none)?.id).toBe('b');
    expect(registry.pick(ds, new Set(['b']))?.id).toBe('a');
    expect(registry.pick(ds, new Set(['a', 'b', 'c']))).toBeUndefined();
    expect(registry.remove(a)).toBe(2);
    expect(registry.pick({ tenantId: null, dataSourceId: 'other' }, none)).toBeUndefined();
  });

  it("keeps each tenant's providers of one id apart: the same id in two tenants is two data sources", () => {
    const registry = createProviderRegistry();
    const [plain, acme, other] = [provider('plain'), provider('acme', 'acme'), provider('other', 'other')];
    for (const p of [plain, acme, other]) registry.add(p);
    const none = new Set<string>();
    const acmeDs = { tenantId: 'acme', dataSourceId: 'ds' };
    expect([1, 2].map(() => registry.pick(ds, none)?.id)).toEqual(['plain', 'plain']);
    expect([1, 2].map(() => registry.pick(acmeDs, none)?.id)).toEqual(['acme', 'acme']);
    expect(registry.count(ds)).toBe(1);
    expect(registry.count(acmeDs)).toBe(1);
    expect(registry.count({ tenantId: 'nobody', dataSourceId: 'ds' })).toBe(0);
    expect(registry.remove(acme)).toBe(0);
    expect(registry.pick(acmeDs, none)).toBeUndefined();
    expect(registry.pick(ds, none)?.id).toBe('plain');
  });
});
