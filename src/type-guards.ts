/**
 * Type guards every layer may use (config excepted: it imports nothing of the project). Kept
 * here, below the layers, so that pubsub and the domain need not each write their own.
 */

/** A plain object, as JSON.parse gives it: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True for a subscription's event stream, as opposed to a single execution result. */
export function isAsyncIterable<T = unknown>(value: unknown): value is AsyncIterable<T> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
