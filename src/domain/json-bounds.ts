/**
 * Bounds on JSON that arrives from outside. A value nested 100,000 deep parses
 * (V8's JSON.parse does not recurse) but overflows the stack of everything that walks it later
 * (JSON.stringify, Prisma, graphql-js's serializers); a string with NUL (U+0000) or an unpaired
 * UTF-16 surrogate is refused by Postgres (jsonb and text) or silently replaced by U+FFFD on the
 * way there. Both are found here without recursion, so the check itself cannot overflow.
 */

export const JSON_VIOLATIONS = {
  DEPTH: 'depth',
  NUL: 'nul',
  SURROGATE: 'surrogate',
} as const;
export type JsonViolationKind = (typeof JSON_VIOLATIONS)[keyof typeof JSON_VIOLATIONS];

/** Where a value breaks a bound: `path` is JSONPath-like from the value's root, e.g. `[3].data.a`. */
export interface JsonViolation {
  readonly kind: JsonViolationKind;
  readonly path: string;
}

/** A character Postgres refuses or would change: NUL, or a surrogate without its other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot be stored as text, or undefined when it can. */
export function unstorableTextIn(text: string): JsonViolationKind | undefined {
  if (text.includes('\u0000')) return JSON_VIOLATIONS.NUL;
  return LONE_SURROGATE.test(text) ? JSON_VIOLATIONS.SURROGATE : undefined;
}

/**
 * Whether values parsed from `jsonText` can hold unstorable text at all. JSON text decoded from
 * valid UTF-8 (a fatal decoder: no lone surrogate survives it) can only put a NUL or a lone
 * surrogate into a string or key through a `\u` escape, since JSON.parse refuses raw control
 * characters in strings; without any `\u` the walk need not look at the strings.
 */
export function mayHoldUnstorableText(jsonText: string): boolean {
  return jsonText.includes('\\u');
}

interface Frame {
  readonly value: unknown;
  readonly depth: number;
  readonly parent: Frame | undefined;
  readonly key: string | number | undefined;
}

/**
 * Values already found within bounds (with text checked), by the depth they were checked at: the
 * monitor route checks its events itself (to name the bad one), and the same array then
 * arrives as the `$messages` variable of the mutation it runs; walking it twice cost as much as
 * publishing it.
 */
const checkedWithin = new WeakMap<object, number>();

/** Records that `value` has no violation at `maxDepth` (call right after finding none). */
export function markJsonChecked(value: object, maxDepth: number): void {
  checkedWithin.set(value, maxDepth);
}

/**
 * The first place where `value` is nested deeper than `maxDepth` or (unless `text` is false)
 * holds unstorable text.
 */
export function findJsonViolation(
  value: unknown,
  maxDepth: number,
  options: { readonly text?: boolean } = {},
): JsonViolation | undefined {
  const checkText = options.text !== false;
  if (typeof value === 'object' && value !== null) {
    const checkedAt = checkedWithin.get(value);
    // Within bounds at some depth is within bounds at any greater depth.
    if (checkedAt !== undefined && checkedAt <= maxDepth) return undefined;
  }
  // The common answer, "none", without a frame object per node; the path only when there is one.
  if (!hasJsonViolation(value, maxDepth, checkText)) return undefined;
  return locateJsonViolation(value, maxDepth, checkText);
}

function hasJsonViolation(root: unknown, maxDepth: number, checkText: boolean): boolean {
  const values: unknown[] = [root];
  const depths: number[] = [0];
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop() as number;
    if (typeof current === 'string') {
      if (checkText && unstorableTextIn(current)) return true;
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    const inner = depth + 1;
    if (inner > maxDepth) return true;
    if (Array.isArray(current)) {
      for (const item of current) {
        values.push(item);
        depths.push(inner);
      }
      continue;
    }
    // for…in, not Object.keys: no array per object walked (inherited keys are impossible in
    // parsed JSON, and in anything else they are not what a serializer sends).
    for (const key in current) {
      if (!Object.hasOwn(current, key)) continue;
      if (checkText && unstorableTextIn(key)) return true;
      values.push((current as Record<string, unknown>)[key]);
      depths.push(inner);
    }
  }
  return false;
}

function locateJsonViolation(
  value: unknown,
  maxDepth: number,
  checkText: boolean,
): JsonViolation | undefined {
  const stack: Frame[] = [{ value, depth: 0, parent: undefined, key: undefined }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const current = frame.value;
    if (typeof current === 'string') {
      if (!checkText) continue;
      const kind = unstorableTextIn(current);
      if (kind) return { kind, path: pathOf(frame) };
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    const depth = frame.depth + 1;
    if (depth > maxDepth) return { kind: JSON_VIOLATIONS.DEPTH, path: pathOf(frame) };
    if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index -= 1) {
        stack.push({ value: current[index], depth, parent: frame, key: index });
      }
      continue;
    }
    const entries = Object.entries(current as Record<string, unknown>);
    for (let index = entries.length - 1; index >= 0; index -= 1) {
      const [key, child] = entries[index] as [string, unknown];
      const keyProblem = checkText ? unstorableTextIn(key) : undefined;
      if (keyProblem) return { kind: keyProblem, path: pathOf({ value: key, depth, parent: frame, key }) };
      stack.push({ value: child, depth, parent: frame, key });
    }
  }
  return undefined;
}

/** Longest path shown in a message; a path 64 levels deep says nothing more past this. */
const MAX_PATH_CHARS = 120;

function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let current: Frame | undefined = frame; current?.parent; current = current.parent) {
    const { key } = current;
    parts.push(
      typeof key === 'number'
        ? `[${key}]`
        : /^[A-Za-z_$][\w$]*$/.test(String(key))
          ? `.${key}`
          : `[${JSON.stringify(String(key).slice(0, 32))}]`,
    );
  }
  const path = parts.reverse().join('');
  return path.length > MAX_PATH_CHARS ? `${path.slice(0, MAX_PATH_CHARS)}…` : path;
}

/** What is wrong, for a message that begins with the name of the input (`event 3`, `$messages`). */
export function describeJsonViolation(violation: JsonViolation, maxDepth: number): string {
  const at = violation.path === '' ? '' : ` at ${violation.path}`;
  switch (violation.kind) {
    case JSON_VIOLATIONS.DEPTH:
      return `is nested more than ${maxDepth} levels deep${at} (MAX_JSON_DEPTH)`;
    case JSON_VIOLATIONS.NUL:
      return `contains a NUL character (\\u0000)${at}, which cannot be stored`;
    case JSON_VIOLATIONS.SURROGATE:
      return `contains an unpaired UTF-16 surrogate${at}, which is not valid Unicode text`;
  }
}
