import { BadUserInputError } from '../../errors.ts';
import { isRecord } from '../../type-guards.ts';

/**
 * Where a subscription stands in one topic. Kafka: the next offset per partition. Broker: the
 * broker position of the last message delivered, or, before any, the time the subscription
 * started (so that a resume still catches what came after that).
 */
export type TopicCursor =
  | { readonly kind: 'kafka'; readonly next: ReadonlyMap<number, bigint> }
  | { readonly kind: 'broker'; readonly after: string }
  | { readonly kind: 'broker'; readonly since: Date };

/** Cursors by topic name: what a position token holds. */
export type PositionMap = ReadonlyMap<string, TopicCursor>;

interface EncodedPosition {
  readonly v: 1;
  readonly t: Record<string, { k: Record<string, string> } | { a: string } | { s: number }>;
}

/**
 * The opaque position token of topicMessages (TopicMessage.position, `after`, the SSE `id:`):
 * every topic of the subscription, so one token resumes them all.
 */
export function encodePosition(cursors: PositionMap): string {
  const encoded: EncodedPosition = { v: 1, t: {} };
  for (const [topic, cursor] of cursors) {
    if (cursor.kind === 'kafka') {
      const next: Record<string, string> = {};
      for (const [partition, offset] of cursor.next) next[partition] = offset.toString();
      encoded.t[topic] = { k: next };
    } else {
      encoded.t[topic] = 'after' in cursor ? { a: cursor.after } : { s: cursor.since.getTime() };
    }
  }
  return Buffer.from(JSON.stringify(encoded), 'utf8').toString('base64url');
}

/** Reads a position token; BAD_USER_INPUT when it is not one this server made. */
export function decodePosition(token: string): Map<string, TopicCursor> {
  const invalid = () =>
    new BadUserInputError(`after: "${token.slice(0, 80)}" is not a topicMessages position`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!isRecord(parsed) || parsed.v !== 1 || !isRecord(parsed.t)) throw invalid();
  const cursors = new Map<string, TopicCursor>();
  for (const [topic, value] of Object.entries(parsed.t)) {
    if (!isRecord(value)) throw invalid();
    if (isRecord(value.k)) {
      const next = new Map<number, bigint>();
      for (const [partition, offset] of Object.entries(value.k)) {
        if (!/^\d+$/.test(partition) || typeof offset !== 'string' || !/^\d+$/.test(offset)) throw invalid();
        next.set(Number(partition), BigInt(offset));
      }
      cursors.set(topic, { kind: 'kafka', next });
    } else if (typeof value.a === 'string') {
      cursors.set(topic, { kind: 'broker', after: value.a });
    } else if (typeof value.s === 'number' && Number.isFinite(value.s)) {
      cursors.set(topic, { kind: 'broker', since: new Date(value.s) });
    } else {
      throw invalid();
    }
  }
  return cursors;
}

/**
 * One token for several subscriptions (the legacy SSE stream holds one per topic): each topic
 * keeps the cursor of the token that has it last.
 */
export function mergePositions(tokens: readonly string[]): string {
  const merged = new Map<string, TopicCursor>();
  for (const token of tokens) for (const [topic, cursor] of decodePosition(token)) merged.set(topic, cursor);
  return encodePosition(merged);
}
