import type { IncomingMessage } from 'node:http';
import type { AuthService } from '../../domain/auth/auth-service.ts';
import { TokenError } from '../../domain/auth/token-error.ts';
import { CONNECTION_KINDS, type ConnectionLimiter } from '../../domain/limits/connection-limiter.ts';
import type { Viewer } from '../../domain/viewer.ts';
import { isAppError } from '../../errors.ts';
import type { Metrics } from '../../metrics.ts';
import { tokenFromIncomingMessage, tokenFromRequest } from '../auth/token-source.ts';
import { acquireConnectionSlot } from '../limits/connection-slot.ts';
import { limitRefusals } from '../limits/limits-plugins.ts';

/** The outcome of checking a legacy client's token. */
export type AccessCheck =
  | { readonly ok: true; readonly viewer: Viewer }
  | { readonly ok: false; readonly error: 'MISSING_TOKEN' | 'INVALID_TOKEN'; readonly message: string };

/** A connection slot, held for the life of one legacy connection. */
export type ConnectionSlot =
  | { readonly ok: true; release(): void }
  | { readonly ok: false; readonly message: string };

/**
 * What the legacy adapters need from auth and limits: the viewer of the request's token
 * (`Authorization: Bearer`, else `?token=` as the old clients send it), answered in the legacy
 * format before any GraphQL operation, and a connection slot.
 */
export interface LegacyAccess {
  authenticate(request: Request | IncomingMessage): Promise<AccessCheck>;
  openConnection(viewer: Viewer, kind: 'websocket' | 'sse'): ConnectionSlot;
}

export function createLegacyAccess(options: {
  auth: AuthService;
  limiter: ConnectionLimiter;
  metrics: Metrics;
}): LegacyAccess {
  const { auth, limiter } = options;
  const refusals = limitRefusals(options.metrics);
  return {
    async authenticate(request) {
      try {
        const token = isFetchRequest(request)
          ? tokenFromRequest(request, { allowQuery: true })
          : tokenFromIncomingMessage(request, { allowQuery: true });
        const viewer = await auth.authenticate(token);
        // Topics are never open to anonymous callers, not even in dev mode (use the dev token).
        if (!viewer)
          return { ok: false, error: 'MISSING_TOKEN', message: 'a token is required for topic streams' };
        return { ok: true, viewer };
      } catch (error) {
        if (error instanceof TokenError) return { ok: false, error: error.reason, message: error.message };
        throw error;
      }
    },
    openConnection(viewer, kind) {
      try {
        const lease = acquireConnectionSlot(
          limiter,
          kind === 'sse' ? CONNECTION_KINDS.SSE : CONNECTION_KINDS.WEBSOCKET,
          viewer,
          (limit) => refusals.inc({ limit }),
        );
        return { ok: true, release: () => lease.release() };
      } catch (error) {
        if (!isAppError(error)) throw error;
        return { ok: false, message: error.message };
      }
    },
  };
}

/** Yoga hands routes its own fetch Request class, so `instanceof Request` cannot tell them apart. */
function isFetchRequest(request: Request | IncomingMessage): request is Request {
  return typeof (request.headers as Headers).get === 'function';
}
