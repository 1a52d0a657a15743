import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { invalidToken } from '../../domain/auth/token-error.ts';
import type { GraphQLContext } from '../../domain/resolver-context.ts';
import { isAsyncIterable } from '../../type-guards.ts';
import { createInterruption } from '../interruption.ts';
import { hasManagedLifecycle } from '../subscription-lifecycle.ts';

// setTimeout's longest delay; a later expiry is re-armed when that fires.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A subscription outlives its token no longer than the token lives: at `exp` it gets one last
 * result with UNAUTHENTICATED "token expired" and ends. Over SSE that is a `next` event with the
 * error, then `complete`; graphql-ws connections are also closed with 4403 (graphql-ws.ts).
 */
export function useTokenExpiry(): Plugin<GraphQLContext> {
  return {
    onSubscribe({ args }) {
      const expiresAt = (args.contextValue as GraphQLContext).viewer?.expiresAt;
      if (expiresAt === undefined || hasManagedLifecycle(args.contextValue)) return undefined;
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(endAtExpiry(result, expiresAt) as never);
        },
      };
    },
  };
}

/** The error a client sees when its token expired during a long-lived connection. */
export function tokenExpiredError(expiresAt: number): GraphQLError {
  const error = invalidToken(`token expired at ${new Date(expiresAt).toISOString()}`);
  return new GraphQLError(error.message, { originalError: error, extensions: error.extensions });
}

/**
 * Calls `onExpiry` at `expiresAt` (at once if already past); returns a cancel function.
 *
 * The timer is deliberately not `unref()`ed. Node keeps one timer list per distinct delay and,
 * when an unref'd timer is cleared, leaves its list in place until that delay has elapsed; a
 * delay of "until exp" is different for every connection, so each connection that came and went
 * kept ~160 bytes for the rest of its token's life (hours; the soak in bench/soak.ts found it).
 * A ref'd timer's list is deleted when it is cleared. Every connection cancels its expiry when
 * it ends, so this timer never holds a stopping process open.
 */
export function onTokenExpiry(expiresAt: number, onExpiry: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const delay = expiresAt - Date.now();
    if (delay <= 0) {
      timer = undefined;
      onExpiry();
      return;
    }
    timer = setTimeout(arm, Math.min(delay, MAX_TIMER_MS));
  };
  arm();
  return () => clearTimeout(timer);
}

/** Hand-written, like endOnAbort in shutdown-plugin.ts, so that an idle source can be ended. */
function endAtExpiry<T>(
  source: AsyncIterable<T>,
  expiresAt: number,
): AsyncIterableIterator<T | { errors: GraphQLError[] }> {
  const iterator = source[Symbol.asyncIterator]();
  const expired = createInterruption<'expired'>();
  const cancel = onTokenExpiry(expiresAt, () => expired.fire('expired'));
  let state: 'live' | 'told' | 'done' = 'live';
  const finish = async (): Promise<IteratorResult<never>> => {
    const wasLive = state === 'live';
    state = 'done';
    cancel();
    if (wasLive) await iterator.return?.();
    return { done: true, value: undefined };
  };
  return {
    async next() {
      if (state !== 'live') return finish();
      const result = await expired.race(iterator.next());
      if (result === 'expired') {
        state = 'told';
        // The source ends now; the client still gets the error result before `complete`.
        void iterator.return?.();
        return { done: false, value: { errors: [tokenExpiredError(expiresAt)] } };
      }
      if (result.done) return finish();
      return result;
    },
    return: finish,
    async throw(error: unknown) {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
