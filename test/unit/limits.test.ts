import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createConnectionLimiter } from '../../src/domain/limits/connection-limiter.ts';
import { createKeyedTokenBuckets, createTokenBucket } from '../../src/domain/limits/token-bucket.ts';
import { LimitExceededError } from '../../src/errors.ts';

describe('token bucket', () => {
  it('allows the burst, then the rate', () => {
    let now = 0;
    const bucket = createTokenBucket({ ratePerSecond: 50, burst: 100, now: () => now });
    const first = Array.from({ length: 150 }, () => bucket.take());
    expect(first.filter(Boolean)).toHaveLength(100);
    now += 100; // 0.1 s → 5 tokens
    expect(Array.from({ length: 10 }, () => bucket.take()).filter(Boolean)).toHaveLength(5);
    now += 60_000; // refills to the burst, not beyond
    expect(Array.from({ length: 150 }, () => bucket.take()).filter(Boolean)).toHaveLength(100);
  });

  it('keeps one bucket per key', () => {
    const now = 0;
    const buckets = createKeyedTokenBuckets({ ratePerSecond: 1, burst: 2, now: () => now });
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([true, true, false]);
    expect(buckets.take('b')).toBe(true);
    expect(buckets.size).toBe(2);
  });
});

describe('connection limiter', () => {
  const limits = { maxWebSocket: 3, maxSse: 2, maxPerUser: 2, maxPerTenant: 3 };

  it('refuses past the per-user limit, naming it, and frees the slot on release', () => {
    const limiter = createConnectionLimiter(limits);
    const owner = { kind: 'websocket', userId: 'u', tenantId: 't' } as const;
    const first = limiter.acquire(owner);
    limiter.acquire(owner);
    expect(() => limiter.acquire(owner)).toThrow(LimitExceededError);
    expect(() => limiter.acquire(owner)).toThrow('user has the maximum of 2 open connections');
    first.release();
    first.release(); // idempotent
    expect(limiter.count({ userId: 'u', tenantId: 't' })).toBe(1);
    expect(() => limiter.acquire(owner)).not.toThrow();
  });

  it('counts the same user id in two tenants as two users', () => {
    const limiter = createConnectionLimiter(limits);
    for (const tenantId of ['a', 'b']) {
      limiter.acquire({ kind: 'sse', userId: 'u', tenantId });
    }
    expect(limiter.count({ userId: 'u', tenantId: 'a' })).toBe(1);
  });

  it('refuses past the per-tenant and per-kind limits; anonymous callers count only per kind', () => {
    const limiter = createConnectionLimiter(limits);
    for (const userId of ['a', 'b', 'c']) limiter.acquire({ kind: 'websocket', userId, tenantId: 't' });
    expect(() => limiter.acquire({ kind: 'sse', userId: 'd', tenantId: 't' })).toThrow(
      'tenant has the maximum of 3 open connections',
    );
    expect(() => limiter.acquire({ kind: 'websocket', userId: null, tenantId: null })).toThrow(
      'the server holds its maximum of 3 WebSocket connections',
    );
    limiter.acquire({ kind: 'sse', userId: null, tenantId: null });
    limiter.acquire({ kind: 'sse', userId: null, tenantId: null });
    expect(() => limiter.acquire({ kind: 'sse', userId: null, tenantId: null })).toThrow(
      'the server holds its maximum of 2 SSE connections',
    );
  });
});

describe('limits config', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({}).limits).toEqual({
      maxWsConnections: 1000,
      maxSseConnections: 500,
      maxConnectionsPerUser: 10,
      maxConnectionsPerTenant: 100,
      maxSubscriptionsPerConnection: 100,
      messageRate: 50,
      messageBurst: 100,
      mutationRate: 50,
      mutationBurst: 100,
      maxDocumentBytes: 64 * 1024,
      maxDocumentTokens: 2000,
      maxJsonDepth: 64,
      maxDepth: 16,
      maxAliases: 30,
      maxCost: 20_000,
      introspection: true,
      maxClientBufferBytes: 1024 * 1024,
    });
  });

  it.each([
    ['MAX_WS_CONNECTIONS', '0'],
    ['MAX_CONNECTIONS_PER_USER', 'ten'],
    ['MESSAGE_RATE', '0'],
    ['MAX_QUERY_DEPTH', '-1'],
    ['MAX_CLIENT_BUFFER', 'huge'],
    ['INTROSPECTION', 'maybe'],
  ])('rejects %s=%j naming it', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(`config: ${variable}="${value}" is invalid`);
  });
});
