/**
 * The request/reply messages on `datasource.{ds}` (legacy.md A), as the requesters of the ISM
 * network send and read them. JSON in UTF-8; the bytes arrive as `unknown` and are narrowed here.
 */

/** A legacy request id: whatever the requester sent (a string in practice), echoed unchanged. */
export type RequesterId = string | number;

/** A request as a requester sends it: `{"id","processId","operation","payload"}`. */
export interface NetworkRequest {
  readonly id: RequesterId;
  /** Echoed in the reply; absent when the requester sent none. */
  readonly processId: unknown;
  readonly operation: string | null;
  readonly payload: unknown;
}

/** Errors that streamgate itself answers with (the provider's own errors are free text). */
export const NETWORK_ERRORS = {
  /** No provider of the data source is connected to any instance. */
  NO_PROVIDER: 'NO_PROVIDER',
  /** The providers tried did not answer in time. */
  TIMEOUT: 'TIMEOUT',
  /** The request was not JSON or not of the shape above. */
  BAD_REQUEST: 'BAD_REQUEST',
  /** streamgate failed; the log has the reason under the correlation id in `message`. */
  INTERNAL: 'INTERNAL',
} as const;

export type NetworkError = (typeof NETWORK_ERRORS)[keyof typeof NETWORK_ERRORS];

/**
 * How long the requester waits, in ms. queryDataSource sets it; a plain requester may. Without
 * it each of the (at most two) providers tried gets DATASOURCE_PROVIDER_TIMEOUT.
 */
export const TIMEOUT_HEADER = 'Streamgate-Timeout-Ms';

/** The answer of a provider, as the requester receives it. */
export interface AnsweredReply {
  /** The provider's own id for its answer. */
  readonly id: string;
  readonly payload: unknown;
  readonly requestId: RequesterId;
  readonly processId?: unknown;
  /** Present when the provider answered with an error. */
  readonly error?: string;
}

/**
 * A reply streamgate made because no provider answered. It has no `id`, which is how a requester
 * tells it from a provider's answer whose `error` happens to read "TIMEOUT".
 */
export interface ErrorReply {
  readonly error: NetworkError;
  readonly message?: string;
  readonly requestId?: RequesterId;
  readonly processId?: unknown;
}

export type NetworkReply = AnsweredReply | ErrorReply;

export type ParsedRequest =
  | { readonly ok: true; readonly request: NetworkRequest }
  | { readonly ok: false; readonly message: string; readonly requestId: RequesterId | undefined };

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** Narrows the bytes of a request; the failure names what is wrong. */
export function parseNetworkRequest(bytes: Uint8Array): ParsedRequest {
  let message: unknown;
  try {
    message = JSON.parse(decoder.decode(bytes));
  } catch {
    return { ok: false, message: 'the request is not JSON', requestId: undefined };
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message))
    return { ok: false, message: 'the request is not a JSON object', requestId: undefined };
  const record = message as Record<string, unknown>;
  const { id, operation, payload } = record;
  const requestId = isRequesterId(id) ? id : undefined;
  if (requestId === undefined)
    return { ok: false, message: '"id" must be a non-empty string or a number', requestId: undefined };
  if (operation !== undefined && operation !== null && typeof operation !== 'string')
    return { ok: false, message: '"operation" must be a string', requestId };
  if (payload === undefined || payload === null)
    return { ok: false, message: '"payload" is required', requestId };
  return {
    ok: true,
    request: { id: requestId, processId: record.processId, operation: operation ?? null, payload },
  };
}

function isRequesterId(value: unknown): value is RequesterId {
  return (
    (typeof value === 'string' && value.length > 0) || (typeof value === 'number' && Number.isFinite(value))
  );
}

/** The request streamgate itself sends for queryDataSource. */
export function encodeRequest(request: NetworkRequest): Uint8Array {
  return encoder.encode(JSON.stringify(request));
}

/** A provider's answer, addressed back to the requester. */
export function answeredReply(
  request: NetworkRequest,
  answer: { readonly answerId: string; readonly result: unknown; readonly error: string | null },
): AnsweredReply {
  return {
    id: answer.answerId,
    payload: answer.result ?? null,
    requestId: request.id,
    ...(request.processId === undefined ? {} : { processId: request.processId }),
    ...(answer.error === null ? {} : { error: answer.error }),
  };
}

/** A reply of streamgate's own, for a request nobody answered. */
export function errorReply(
  error: NetworkError,
  request: { readonly id?: RequesterId; readonly processId?: unknown } | undefined,
  message?: string,
): ErrorReply {
  return {
    error,
    ...(message === undefined ? {} : { message }),
    ...(request?.id === undefined ? {} : { requestId: request.id }),
    ...(request?.processId === undefined ? {} : { processId: request.processId }),
  };
}

export function encodeReply(reply: NetworkReply): Uint8Array {
  return encoder.encode(JSON.stringify(reply));
}

/** True for a reply that streamgate made rather than a provider. */
export function isErrorReply(reply: NetworkReply): reply is ErrorReply {
  return !('id' in reply);
}

/** Narrows a reply (for queryDataSource); undefined when it is neither shape. */
export function parseNetworkReply(bytes: Uint8Array): NetworkReply | undefined {
  let message: unknown;
  try {
    message = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  const record = message as Record<string, unknown>;
  if (typeof record.id === 'string') {
    return {
      id: record.id,
      payload: record.payload ?? null,
      requestId: isRequesterId(record.requestId) ? record.requestId : '',
      ...(typeof record.error === 'string' ? { error: record.error } : {}),
    };
  }
  const error = Object.values(NETWORK_ERRORS).find((code) => code === record.error);
  if (error === undefined) return undefined;
  return { error, ...(typeof record.message === 'string' ? { message: record.message } : {}) };
}
