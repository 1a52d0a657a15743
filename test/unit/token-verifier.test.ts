import { generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTokenVerifier } from '../../src/domain/auth/token-verifier.ts';
import { VerifiedTokens } from '../../src/domain/auth/verified-tokens.ts';

/**
 * A JWT_SECRET app imports its secret once per HMAC algorithm (token-verifier.ts) instead of on
 * every request: each algorithm must still check its own signatures, and refusals say what they
 * said before.
 */
describe('token verifier with a shared secret', () => {
  const secret = 'a-shared-secret-that-is-long-enough-0123456789';
  const options = {
    tenantClaim: 'tenant_id',
    rolesClaims: ['roles'],
    key: { secret },
    algorithms: ['HS256', 'HS384', 'HS512'],
    clockSkewMs: 30_000,
    maxTokenBytes: 8192,
  };
  const sign = (alg: string, sub: string, key: string = secret) =>
    new SignJWT({})
      .setProtectedHeader({ alg })
      .setSubject(sub)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(key));

  it('accepts tokens of every HMAC algorithm, again and again, each under its own hash', async () => {
    const verify = createTokenVerifier(options);
    for (const round of [1, 2]) {
      for (const alg of ['HS512', 'HS256', 'HS384']) {
        const viewer = await verify(await sign(alg, `user-${alg}-${round}`));
        expect(viewer.userId).toBe(`user-${alg}-${round}`);
      }
    }
    // Many at once share the one import of each algorithm.
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, index) => sign('HS256', `u${index}`)));
    const viewers = await Promise.all(tokens.map((token) => verify(token)));
    expect(viewers.map((viewer) => viewer.userId)).toEqual(tokens.map((_, index) => `u${index}`));
  });

  it('refuses a token signed with another secret, under every algorithm, after good ones', async () => {
    const verify = createTokenVerifier(options);
    for (const alg of ['HS256', 'HS384', 'HS512']) {
      await verify(await sign(alg, 'good'));
      await expect(verify(await sign(alg, 'forged', `${secret}-not`))).rejects.toThrow(
        /^token signature is invalid$/,
      );
    }
  });

  it('refuses an algorithm JWT_ALGORITHMS does not list, and an RS256 token, by name', async () => {
    const verify = createTokenVerifier({ ...options, algorithms: ['HS256'] });
    await expect(verify(await sign('HS512', 'someone'))).rejects.toThrow(
      /^token algorithm "HS512" is not accepted$/,
    );
    const { privateKey } = await generateKeyPair('RS256');
    const rs = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('someone')
      .setExpirationTime('1h')
      .sign(privateKey);
    await expect(verify(rs)).rejects.toThrow(/^token algorithm "RS256" is not accepted$/);
  });

  describe('the same token again (verified tokens are remembered while their time checks pass)', () => {
    afterEach(() => {
      vi.useRealTimers();
    });
    const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
    /** A token valid from T0 + 100 s to T0 + 200 s, issued at T0 + 100 s; the skew is 30 s. */
    const windowed = () =>
      new SignJWT({ roles: ['writer'], tenant_id: 'acme' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('alice')
        .setIssuedAt(T0 / 1000 + 100)
        .setNotBefore(T0 / 1000 + 100)
        .setExpirationTime(T0 / 1000 + 200)
        .sign(new TextEncoder().encode(secret));
    const at = (ms: number) => vi.setSystemTime(ms);

    it('names the same viewer each time, and refuses it past exp + skew with the usual message', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const token = await windowed();
      const verify = createTokenVerifier(options);
      at(T0 + 150_000);
      const first = await verify(token);
      expect(first).toEqual({
        userId: 'alice',
        tenantId: 'acme',
        roles: ['writer'],
        expiresAt: T0 + 200_000,
      });
      await expect(verify(token)).resolves.toEqual(first);
      // Within the skew after exp it still passes, as jose lets it.
      at(T0 + 229_999);
      await expect(verify(token)).resolves.toEqual(first);
      at(T0 + 230_000);
      await expect(verify(token)).rejects.toThrow(/^token expired at 2030-01-01T12:03:20.000Z$/);
      // And it stays refused.
      await expect(verify(token)).rejects.toThrow(/^token expired at/);
    });

    it('refuses it again when the clock goes back before nbf or iat (minus the skew)', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const token = await windowed();
      const verify = createTokenVerifier(options);
      at(T0 + 150_000);
      await verify(token);
      at(T0 + 69_000);
      await expect(verify(token)).rejects.toThrow(/^token is not valid before 2030-01-01T12:01:40.000Z$/);
      at(T0 + 70_000);
      await expect(verify(token)).resolves.toMatchObject({ userId: 'alice' });
    });

    it('still refuses a token signed with another secret after the good one passed', async () => {
      const verify = createTokenVerifier(options);
      const good = await sign('HS256', 'carol');
      await verify(good);
      await verify(good);
      await expect(verify(await sign('HS256', 'carol', `${secret}-not`))).rejects.toThrow(
        /^token signature is invalid$/,
      );
      // A token whose signature part is altered is another text: verified, and refused.
      const [header, payload] = good.split('.');
      await expect(verify(`${header}.${payload}.${'A'.repeat(43)}`)).rejects.toThrow(
        /^token signature is invalid$/,
      );
    });

    it('remembers at most its bound, forgetting the oldest first', () => {
      const tokens = new VerifiedTokens(30, 30_000, 2);
      const viewer = (userId: string) => ({ userId, tenantId: null, roles: [] });
      const exp = Math.floor(Date.now() / 1000) + 3600;
      tokens.set('a', { exp }, viewer('a'));
      tokens.set('b', { exp }, viewer('b'));
      tokens.set('c', { exp }, viewer('c'));
      expect(tokens.size).toBe(2);
      expect(tokens.get('a')).toBeUndefined();
      expect(tokens.get('b')?.userId).toBe('b');
      expect(tokens.get('c')?.userId).toBe('c');
    });
  });
});
