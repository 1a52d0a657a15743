/** What `resolvePath` returns for a path that leads nowhere (distinct from a JSON null). */
export const MISSING: unique symbol = Symbol('missing');

/** @default 32: deeper paths are refused; real messages are far shallower. */
export const MAX_PATH_SEGMENTS = 32;

// Segments that would walk into an object's prototype machinery rather than its data.
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/** Splits a dotted path ("quote.bid.price") into segments; returns the problem when invalid. */
export function parsePath(path: string): { segments: readonly string[] } | { problem: string } {
  if (path.length === 0) return { problem: 'a field path must not be empty' };
  const segments = path.split('.');
  if (segments.length > MAX_PATH_SEGMENTS) {
    return { problem: `field "${path}" has more than ${MAX_PATH_SEGMENTS} segments` };
  }
  for (const segment of segments) {
    if (segment.length === 0) return { problem: `field "${path}" has an empty segment` };
    if (FORBIDDEN_SEGMENTS.has(segment))
      return { problem: `field "${path}" uses the reserved name "${segment}"` };
  }
  return { segments };
}

/**
 * The value at a path of a JSON value: own properties of objects, and integer indexes of
 * arrays ("legs.0.price"). Never reads inherited properties.
 */
export function resolvePath(value: unknown, segments: readonly string[]): unknown {
  let current: unknown = value;
  for (const segment of segments) {
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return MISSING;
      const index = Number(segment);
      if (index >= current.length) return MISSING;
      current = current[index];
    } else if (typeof current === 'object' && current !== null) {
      if (!Object.hasOwn(current, segment)) return MISSING;
      current = (current as Record<string, unknown>)[segment];
    } else {
      return MISSING;
    }
  }
  return current === undefined ? MISSING : current;
}
