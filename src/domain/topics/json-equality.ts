/** Deep equality of JSON values: same type, same scalars, same items in order, same keys in any order. */
export function jsonEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, index) => jsonEquals(item, b[index]));
  }
  if (Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  const bRecord = b as Record<string, unknown>;
  return (
    aKeys.length === Object.keys(bRecord).length &&
    aKeys.every(
      (key) => Object.hasOwn(bRecord, key) && jsonEquals((a as Record<string, unknown>)[key], bRecord[key]),
    )
  );
}

/**
 * A string that is the same for two values exactly when `jsonEquals` holds: the key of the
 * equality index. The type prefix keeps "1" and 1 apart.
 */
export function equalityKey(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `s:${value}`;
    case 'number':
      return `n:${String(value)}`;
    case 'boolean':
      return value ? 'b:1' : 'b:0';
    default:
      return value === null ? 'null' : `j:${stableStringify(value)}`;
  }
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableStringify(record[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
