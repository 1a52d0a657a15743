import { generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../src/domain/auth/token-verifier.ts';

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
});
