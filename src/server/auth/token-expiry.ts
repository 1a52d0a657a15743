import { GraphQLError } from 'graphql';
import { invalidToken } from '../../domain/auth/token-error.ts';

// setTimeout's longest delay; a later expiry is re-armed when that fires.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The error a client sees when its token expired during a long-lived connection. A subscription
 * outlives its token no longer than the token lives: every transport arms `onTokenExpiry` when a
 * subscription (or connection) starts and, at `exp`, sends it one last result with this error
 * (UNAUTHENTICATED "token expired") and ends it. Over SSE that is a `next` event with the error,
 * then `complete`; graphql-ws connections are then closed with 4403 (operation-socket.ts).
 */
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
