/**
 * The wire protocol of the legacy data-source provider socket, `GET /ws/ds/{ds}` (legacy.md A):
 * no envelope, one JSON object per text frame. Everything a frame may contain is here, with the
 * one `validate` that narrows what a provider sends.
 */
import type { ErrorCode } from '../../errors.ts';

/** Server → provider: one request to answer. `operation` is left out when the requester sent none. */
export interface RequestFrame {
  readonly id: string;
  readonly operation?: string;
  readonly payload: unknown;
}

/** Provider → server: the answer to the request whose `id` it carries as `requestId`. */
export interface AnswerFrame {
  /** The provider's own id for its answer; the requester's reply carries it. A UUID when absent. */
  readonly id?: string;
  readonly requestId: string;
  readonly payload: unknown;
  /** streamgate's addition: the provider could not answer; the requester's reply carries it. */
  readonly error?: string;
}

/** Codes of the error frame beside the API's error codes (legacy.md D uses the same two). */
export const FRAME_ERRORS = {
  /** The frame is not JSON (or not UTF-8). */
  INVALID_JSON: 'INVALID_JSON',
  /** JSON, but not an answer frame; `message` says what is wrong. */
  INVALID_FORMAT: 'INVALID_FORMAT',
} as const;

export type ErrorFrameCode = (typeof FRAME_ERRORS)[keyof typeof FRAME_ERRORS] | ErrorCode;

/**
 * Server → provider: a frame (or an answer) was refused. The socket stays open and nothing is
 * lost: the request stays pending until a valid answer or its deadline. Answers that were refused
 * carry the `requestId` they named: NOT_FOUND for an unknown or expired request, BAD_USER_INPUT
 * for one that was sent to another provider.
 */
export interface ErrorFrame {
  readonly type: 'error';
  readonly error: ErrorFrameCode;
  readonly message: string;
  readonly requestId?: string;
}

export type Validation =
  | { readonly ok: true; readonly frame: AnswerFrame }
  | {
      readonly ok: false;
      readonly error: ErrorFrameCode;
      readonly message: string;
      readonly requestId?: string;
    };

const EXPECTED = 'expected {"id":"…","payload":…,"requestId":"<the id of the request>"}';

/** Narrows a parsed frame to an answer, or says exactly what is wrong with it. */
export function validate(message: unknown): Validation {
  if (typeof message !== 'object' || message === null || Array.isArray(message))
    return { ok: false, error: FRAME_ERRORS.INVALID_FORMAT, message: `not a JSON object: ${EXPECTED}` };
  const { id, requestId, payload, error } = message as Record<string, unknown>;
  if (typeof requestId !== 'string' || requestId.length === 0)
    return { ok: false, error: FRAME_ERRORS.INVALID_FORMAT, message: `"requestId" is missing: ${EXPECTED}` };
  const invalid = (text: string): Validation => ({
    ok: false,
    error: FRAME_ERRORS.INVALID_FORMAT,
    message: text,
    requestId,
  });
  if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number')
    return invalid('"id" must be a string');
  if (error !== undefined && error !== null && typeof error !== 'string')
    return invalid('"error" must be a string');
  return {
    ok: true,
    frame: {
      requestId,
      payload: payload ?? null,
      ...(id === undefined || id === null ? {} : { id: String(id) }),
      ...(typeof error === 'string' ? { error } : {}),
    },
  };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A frame as received (text, or binary holding UTF-8 text), parsed and validated. */
export function parseFrame(data: string | Uint8Array): Validation {
  let message: unknown;
  try {
    message = JSON.parse(typeof data === 'string' ? data : decoder.decode(data));
  } catch {
    return { ok: false, error: FRAME_ERRORS.INVALID_JSON, message: `the frame is not JSON: ${EXPECTED}` };
  }
  return validate(message);
}

/** Serializes a request for the provider. */
export function requestFrame(request: { id: string; operation: string | null; query: unknown }): string {
  const frame: RequestFrame = {
    id: request.id,
    ...(request.operation === null ? {} : { operation: request.operation }),
    payload: request.query,
  };
  return JSON.stringify(frame);
}

export function errorFrame(error: ErrorFrameCode, message: string, requestId?: string): string {
  const frame: ErrorFrame = {
    type: 'error',
    error,
    message,
    ...(requestId === undefined ? {} : { requestId }),
  };
  return JSON.stringify(frame);
}
