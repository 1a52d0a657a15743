/**
 * The wire protocol of the old 254Carbon streaming service (legacy.md D), kept exactly: message
 * types, error codes (close codes: ../close-codes.ts) and `validate(message: unknown)`, like graphql-ws's common.ts.
 * Replies carry both `type` (as the old docs say) and `action` (as the old code sent).
 */

/** `error` values of error frames and SSE error bodies. */
export const LEGACY_ERRORS = {
  MISSING_TOKEN: 'MISSING_TOKEN',
  INVALID_TOKEN: 'INVALID_TOKEN',
  CONNECTION_LIMIT_EXCEEDED: 'CONNECTION_LIMIT_EXCEEDED',
  INVALID_JSON: 'INVALID_JSON',
  INVALID_FORMAT: 'INVALID_FORMAT',
  UNKNOWN_ACTION: 'UNKNOWN_ACTION',
  MISSING_TOPICS: 'MISSING_TOPICS',
  RATE_LIMITED: 'RATE_LIMITED',
  ACCESS_HEARTBEAT_TIMEOUT: 'ACCESS_HEARTBEAT_TIMEOUT',
  SLOW_CONSUMER: 'SLOW_CONSUMER',
} as const;
export type LegacyError = (typeof LEGACY_ERRORS)[keyof typeof LEGACY_ERRORS];

/** Why one topic of a subscribe was refused (`failed_topics[].error`). */
export const TOPIC_FAILURES = {
  INVALID_TOPIC_FORMAT: 'INVALID_TOPIC_FORMAT',
  SUBSCRIPTION_DENIED: 'SUBSCRIPTION_DENIED',
  UNKNOWN_TOPIC: 'UNKNOWN_TOPIC',
} as const;

export const LEGACY_ACTIONS = ['subscribe', 'unsubscribe', 'ping', 'list_topics'] as const;
export type LegacyAction = (typeof LEGACY_ACTIONS)[number];

/** A client frame that passed `validate`. */
export type ClientMessage =
  | { readonly action: 'subscribe'; readonly topics: readonly string[]; readonly filters: unknown }
  | { readonly action: 'unsubscribe'; readonly topics: readonly string[] }
  | { readonly action: 'ping' }
  | { readonly action: 'list_topics' };

export type Validation =
  | { readonly ok: true; readonly message: ClientMessage }
  | { readonly ok: false; readonly error: LegacyError; readonly message: string };

/** Checks a parsed client frame `{"action": …, "data": {…}}`. */
export function validate(frame: unknown): Validation {
  const fail = (error: LegacyError, message: string): Validation => ({ ok: false, error, message });
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    return fail(LEGACY_ERRORS.INVALID_FORMAT, 'a frame must be a JSON object {"action": …, "data": {…}}');
  }
  const { action, data } = frame as Record<string, unknown>;
  if (typeof action !== 'string') return fail(LEGACY_ERRORS.INVALID_FORMAT, 'the frame has no "action"');
  if (!(LEGACY_ACTIONS as readonly string[]).includes(action)) {
    return fail(
      LEGACY_ERRORS.UNKNOWN_ACTION,
      `unknown action "${action.slice(0, 50)}"; known: ${LEGACY_ACTIONS.join(', ')}`,
    );
  }
  if (action === 'ping' || action === 'list_topics') return { ok: true, message: { action } };
  if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) {
    return fail(LEGACY_ERRORS.INVALID_FORMAT, `"data" of ${action} must be an object`);
  }
  const { topics, filters } = (data ?? {}) as Record<string, unknown>;
  if (topics === undefined || (Array.isArray(topics) && topics.length === 0)) {
    return fail(
      LEGACY_ERRORS.MISSING_TOPICS,
      `${action} needs "data.topics", a non-empty list of topic names`,
    );
  }
  if (!Array.isArray(topics) || !topics.every((topic) => typeof topic === 'string')) {
    return fail(LEGACY_ERRORS.INVALID_FORMAT, '"data.topics" must be a list of topic names');
  }
  if (action === 'unsubscribe') return { ok: true, message: { action, topics } };
  return { ok: true, message: { action: 'subscribe', topics, filters: filters ?? null } };
}

/** A refused topic of a subscribe. */
export interface FailedTopic {
  readonly topic: string;
  /** One of TOPIC_FAILURES, or the GraphQL code of an unexpected failure. */
  readonly error: string;
  readonly message?: string;
}

/** Server frames, built in one place so every reply has both keys old clients read. */
export const frames = {
  connectionEstablished: (connectionId: string, userId: string, tenantId: string | null) => ({
    type: 'connection_established',
    connection_id: connectionId,
    user_id: userId,
    tenant_id: tenantId,
  }),
  subscriptionConfirmed: (subscribed: readonly string[], failed: readonly FailedTopic[]) => ({
    type: 'subscription_confirmed',
    action: 'subscribe_response',
    subscribed_topics: subscribed,
    failed_topics: failed,
    success: failed.length === 0,
  }),
  unsubscribed: (topics: readonly string[]) => ({
    type: 'unsubscribed',
    action: 'unsubscribe_response',
    topics,
  }),
  pong: (now: number) => ({ type: 'pong', action: 'pong', timestamp: now }),
  topics: (subscribed: readonly string[], available: readonly string[]) => ({
    type: 'topics',
    action: 'topics_list',
    subscribed_topics: subscribed,
    available_topics: available,
  }),
  error: (error: string, message: string, extra: Record<string, unknown> = {}) => ({
    type: 'error',
    error,
    message,
    ...extra,
  }),
} as const;

/** A delivered message in the legacy shape: epoch-ms timestamp, numeric offset where it fits. */
export interface LegacyData {
  readonly type: 'data';
  readonly topic: string;
  readonly data: unknown;
  readonly timestamp: number;
  readonly partition: number | null;
  readonly offset: number | string | null;
}

export function dataFrame(message: {
  topic: string;
  data: unknown;
  timestamp: string;
  partition: number | null;
  offset: string | null;
}): LegacyData {
  return {
    type: 'data',
    topic: message.topic,
    data: message.data,
    timestamp: Date.parse(message.timestamp),
    partition: message.partition,
    offset: legacyOffset(message.offset),
  };
}

/** Old clients read the offset as a number; one too large for a double stays text. */
function legacyOffset(offset: string | null): number | string | null {
  if (offset === null || !/^\d+$/.test(offset)) return offset;
  const value = Number(offset);
  return Number.isSafeInteger(value) ? value : offset;
}
