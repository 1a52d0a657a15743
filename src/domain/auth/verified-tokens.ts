import type { JWTPayload } from 'jose';
import type { Viewer } from '../viewer.ts';

/** How many verified tokens are remembered; past it the oldest is forgotten. */
export const VERIFIED_TOKENS_MAX = 512;

interface Verified {
  readonly viewer: Viewer;
  readonly nbf: number | undefined;
  readonly exp: number | undefined;
  readonly iat: number | undefined;
}

/**
 * The Viewers of tokens that passed verification under a shared secret, so that a client that
 * sends the same token with every request (a producer's publishes) is not verified again each
 * time: jose verifies an HMAC through WebCrypto, a thread-pool round trip that cost about a
 * tenth of a topic publish's CPU. With one secret for the process' life, whether a token's
 * signature, header and claims pass is fixed by its text; only the time checks move. So a token
 * is answered from here only while the clock is inside the window in which every time check that
 * passed would pass again, with jose's arithmetic (whole seconds, the same tolerance): `nbf`
 * reached, `exp` not, `iat` not ahead by more than the skew. Outside it the caller verifies the
 * token in full and gets the error it always got. Never for a JWKS, whose keys change.
 */
export class VerifiedTokens {
  readonly #byToken = new Map<string, Verified>();

  constructor(
    /** jose's `clockTolerance`, in seconds. */
    private readonly toleranceSeconds: number,
    /** The skew allowed for `iat`, in ms (token-verifier's own check). */
    private readonly clockSkewMs: number,
    private readonly max = VERIFIED_TOKENS_MAX,
  ) {}

  /** The Viewer of a token verified before, if every time check would pass now; else undefined. */
  get(token: string): Viewer | undefined {
    const known = this.#byToken.get(token);
    if (known === undefined) return undefined;
    const nowMs = Date.now();
    const now = Math.floor(nowMs / 1000);
    if (known.exp !== undefined && known.exp <= now - this.toleranceSeconds) {
      this.#byToken.delete(token);
      return undefined;
    }
    if (known.nbf !== undefined && known.nbf > now + this.toleranceSeconds) return undefined;
    if (known.iat !== undefined && known.iat * 1000 > nowMs + this.clockSkewMs) return undefined;
    return known.viewer;
  }

  /** Remembers a token that has just passed every check, with its verified claims. */
  set(token: string, payload: JWTPayload, viewer: Viewer): void {
    if (!this.#byToken.has(token) && this.#byToken.size >= this.max) {
      const oldest = this.#byToken.keys().next();
      if (!oldest.done) this.#byToken.delete(oldest.value);
    }
    this.#byToken.set(token, {
      viewer,
      nbf: typeof payload.nbf === 'number' ? payload.nbf : undefined,
      exp: typeof payload.exp === 'number' ? payload.exp : undefined,
      iat: typeof payload.iat === 'number' ? payload.iat : undefined,
    });
  }

  get size(): number {
    return this.#byToken.size;
  }
}
