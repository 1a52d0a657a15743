/**
 * POST /monitor/{device}: the ApiGear HTTP monitor (legacy.md C), as a translator onto the
 * `ingest` mutation. Answers 200 {"accepted":N}; 400 for an empty device, a body that is not JSON
 * or not an array, or a bad event (naming its index); 413 over MONITOR_MAX_BODY_BYTES; 401/403
 * for auth; 503 when the broker is down (nothing of the request is published or recorded).
 */
import { parse } from 'graphql';
import type { Config } from '../../config/config.ts';
import type { AuthService } from '../../domain/auth/auth-service.ts';
import { checkEventsAreObjects, validateDeviceId } from '../../domain/devices/monitor-event.ts';
import {
  describeJsonViolation,
  findJsonViolation,
  JSON_VIOLATIONS,
  markJsonChecked,
  mayHoldUnstorableText,
} from '../../domain/json-bounds.ts';
import { type AppError, BadUserInputError, isAppError } from '../../errors.ts';
import { RETRY_AFTER_SECONDS } from '../auth/http-error.ts';
import { tokenFromRequest } from '../auth/token-source.ts';
import { errorCodeOf, executeOperation, type OperationCaller } from '../execute-operation.ts';
import { jsonResponse } from '../http-response.ts';
import type { HttpRoute } from '../http-routes.ts';
import type { OperationRunner } from '../operation-runner.ts';
import { parseMonitorBody, readBodyText } from './monitor-body.ts';

const INGEST = parse(`
  mutation MonitorIngest($deviceId: ID!, $messages: [JSON!]!) {
    ingest(deviceId: $deviceId, messages: $messages) { accepted }
  }
`);

/** HTTP status of an error code, for the JSON routes that translate onto GraphQL. */
export const STATUS_OF_CODE: Record<string, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  LIMIT_EXCEEDED: 429,
  UNAVAILABLE: 503,
  TIMEOUT: 503,
};

/** Methods that carry no body: the monitor refuses them (legacy: "other methods with a body"). */
const BODILESS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface MonitorRouteOptions {
  /** The execution seam the adapter's operations run through. */
  readonly runner: OperationRunner;
  readonly auth: AuthService;
  readonly config: Config['devices'];
  /** MAX_JSON_DEPTH, counted from the body's array as for the `ingest` mutation's `$messages`. */
  readonly maxJsonDepth: number;
  /** Counts a refusal by the limit's name (limit_refusals_total): the body's size, its depth. */
  readonly onRefused: (limit: string) => void;
}

/** Events nested deeper than MAX_JSON_DEPTH or holding text Postgres refuses: 400 naming the event. */
function refuseUnboundedEvents(events: readonly unknown[], maxJsonDepth: number, bodyText: string): void {
  // A body without any \u escape holds no unstorable text: only the depth is walked then.
  const text = mayHoldUnstorableText(bodyText);
  for (const [index, event] of events.entries()) {
    // The body's array is the first level, as it is for `$messages`.
    const violation = findJsonViolation(event, maxJsonDepth - 1, { text });
    if (!violation) continue;
    throw new BadUserInputError(`event ${index} ${describeJsonViolation(violation, maxJsonDepth)}`, {
      details: { index, ...(violation.kind === JSON_VIOLATIONS.DEPTH ? { limit: 'MAX_JSON_DEPTH' } : {}) },
    });
  }
  // The same array is the mutation's `$messages`: the input bounds need not walk it again.
  markJsonChecked(events, maxJsonDepth);
}

/** An adapter's refusal of a limit (`details.limit` names its variable) goes to limit_refusals_total. */
export function countRefusal(error: AppError, onRefused: (limit: string) => void): void {
  const limit = error.details?.limit;
  if (typeof limit === 'string') onRefused(limit);
}

/** A JSON error answer; a 503 carries Retry-After. */
export function jsonError(
  status: number,
  error: string,
  message: string,
  details: Record<string, unknown> = {},
) {
  // A broker or database outage: the device should come back, not give up (RFC 9110 §10.2.3).
  const headers: Record<string, string> =
    status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {};
  return jsonResponse({ error, message, ...details }, { status, headers });
}

/**
 * The identity of a monitor request: with a token (Bearer or `?token=`), the context verifies it
 * as it does a header's; without one and MONITOR_PUBLIC on, the device is let in as
 * MONITOR_TENANT with the roles ingest needs (as ApiGear Streams let every device in); otherwise
 * anonymous, which the auth guard refuses when auth is configured.
 */
function callerOf(
  request: Request,
  url: URL,
  deviceId: string,
  options: MonitorRouteOptions,
): OperationCaller {
  const token = tokenFromRequest(request, { allowQuery: true, url });
  if (token === undefined && options.config.monitorPublic) {
    return {
      viewer: {
        // One identity per device, so per-user limits (MUTATION_RATE) apply per device, not to
        // every public device together.
        userId: `monitor-public:${deviceId}`,
        tenantId: options.config.publicTenant,
        roles: options.auth.rolesFor('ingest'),
      },
    };
  }
  // The request itself rides along (its X-Request-Id names the operation), with the token it
  // carries: no copy of the request to move a `?token=` into a header.
  return token === undefined ? { request } : { request, token };
}

/** The monitor routes: /monitor/{device} and /monitor (which names no device: 400). */
export function monitorRoutes(options: MonitorRouteOptions): HttpRoute[] {
  const handle = async (request: Request, url: URL, deviceId: string): Promise<Response> => {
    if (BODILESS.has(request.method)) {
      return jsonResponse(
        { error: 'METHOD_NOT_ALLOWED', message: `${request.method} has no body; POST the events` },
        { status: 405, headers: { allow: 'POST, PUT, PATCH' } },
      );
    }
    if (deviceId.trim() === '')
      return jsonError(400, 'BAD_USER_INPUT', 'the device id is empty: POST /monitor/{device}');
    let caller: OperationCaller;
    let events: unknown[];
    try {
      caller = callerOf(request, url, deviceId, options);
      const bodyText = await readBodyText(request, options.config.maxBodyBytes);
      events = parseMonitorBody(bodyText, request.headers.get('content-type'));
      // Checked here so that a null event or a bad id is named like any other bad input, not by
      // GraphQL coercion or as a variable the caller never wrote. The events themselves are
      // validated once, by the domain (in the mutation).
      validateDeviceId(deviceId);
      refuseUnboundedEvents(events, options.maxJsonDepth, bodyText);
      checkEventsAreObjects(events);
    } catch (error) {
      if (isAppError(error)) {
        countRefusal(error, options.onRefused);
        const { code, ...details } = error.extensions;
        return jsonError(STATUS_OF_CODE[error.code] ?? 500, error.code, error.message, details);
      }
      throw error;
    }
    const result = await executeOperation(options.runner, caller, INGEST, { deviceId, messages: events });
    const [first] = result.errors ?? [];
    if (first) {
      const code = errorCodeOf(first);
      const { code: _code, http: _http, ...details } = first.extensions ?? {};
      return jsonError(STATUS_OF_CODE[code] ?? 500, code, first.message, details);
    }
    const data = result.data as { ingest: { accepted: number } };
    return jsonResponse({ accepted: data.ingest.accepted });
  };
  return [
    {
      methods: '*',
      path: '/monitor/:device',
      handle: (request, params, _serverContext, url) => handle(request, url, params.device ?? ''),
    },
    {
      methods: '*',
      path: '/monitor',
      handle: (request, _params, _serverContext, url) => handle(request, url, ''),
    },
  ];
}
