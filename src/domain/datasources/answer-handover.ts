/**
 * The internal messages by which an instance hands a provider's answer to the instance that sent
 * the request (on `streamgate.datasource-answer.{instance}`): an SSE provider may answer over
 * HTTP through a load balancer that picks another instance.
 */
import { ERROR_CODES, type ErrorCode } from '../../errors.ts';
import { isRecord } from '../../type-guards.ts';
import type { ProviderAnswer } from './pending-requests.ts';
import type { ProviderIdentity } from './provider.ts';

export interface AnswerHandover {
  readonly requestId: string;
  readonly identity: ProviderIdentity;
  readonly answer: ProviderAnswer;
}

/** OK, or the error code and message the answering client should see. */
export type HandoverResult =
  | { readonly code: 'OK' }
  | { readonly code: ErrorCode; readonly message?: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeAnswerHandover(handover: AnswerHandover): Uint8Array {
  return encoder.encode(JSON.stringify(handover));
}

/** undefined when the message is not a handover (it comes from the broker, so it is checked). */
export function decodeAnswerHandover(bytes: Uint8Array): AnswerHandover | undefined {
  const value = parseObject(bytes);
  if (!value) return undefined;
  const identity = value.identity as Record<string, unknown> | undefined;
  const answer = value.answer as Record<string, unknown> | undefined;
  if (typeof value.requestId !== 'string' || typeof identity !== 'object' || identity === null)
    return undefined;
  if (typeof answer !== 'object' || answer === null || typeof answer.answerId !== 'string') return undefined;
  const nullableString = (field: unknown) => (typeof field === 'string' ? field : null);
  return {
    requestId: value.requestId,
    identity: {
      tenantId: nullableString(identity.tenantId),
      userId: nullableString(identity.userId),
      connectionId: nullableString(identity.connectionId),
    },
    answer: { answerId: answer.answerId, result: answer.result ?? null, error: nullableString(answer.error) },
  };
}

export function encodeHandoverResult(result: HandoverResult): Uint8Array {
  return encoder.encode(JSON.stringify(result));
}

export function parseHandoverResult(bytes: Uint8Array): HandoverResult {
  const value = parseObject(bytes);
  if (value?.code === 'OK') return { code: 'OK' };
  const code = Object.values(ERROR_CODES).find((known) => known === value?.code) ?? ERROR_CODES.UNAVAILABLE;
  return { code, ...(typeof value?.message === 'string' ? { message: value.message } : {}) };
}

function parseObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(decoder.decode(bytes));
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
