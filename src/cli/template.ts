import { UsageError } from './cli-errors.ts';
import { CITIES, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES } from './fake-data.ts';
import type { Random } from './seeded-random.ts';

/**
 * Templates of `streamgate data generate` (documented in docs/cli.md).
 *
 * A template is a JSON file. Inside its strings (values and keys), `{{helper args}}` is replaced
 * per record. A string that is exactly one placeholder takes the helper's own type, so
 * `"{{randInt 1 10}}"` becomes the number 7; a placeholder inside longer text is interpolated,
 * so `"user-{{seq}}"` becomes "user-7". Keeping templates valid JSON means editors check them and
 * a generated value never needs escaping.
 */

/** What one record is rendered from. */
export interface RenderContext {
  /** The record number, from 1. */
  readonly seq: number;
  /** The record's time in epoch milliseconds (the `timestamp` helper). */
  readonly timestampMs: number;
  readonly random: Random;
}

/** A template checked once, rendered once per record. */
export interface Template {
  render(context: RenderContext): unknown;
}

type Value = string | number;

interface Person {
  readonly first: string;
  readonly last: string;
  readonly domain: string;
}

/** Per-record state: the names and email of one record belong to the same made-up person. */
interface RecordScope {
  readonly context: RenderContext;
  person?: Person;
}

interface HelperSpec {
  /** Arguments as written, e.g. `<min> <max>`; shown in error messages. */
  readonly usage: string;
  /** Checks the arguments once and returns the function that computes a value per record. */
  compile(args: readonly string[], fail: (reason: string) => never): (scope: RecordScope) => Value;
}

function numberArg(text: string | undefined, what: string, fail: (reason: string) => never): number {
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(value)) fail(`${what} must be a number`);
  return value;
}

function arity(args: readonly string[], min: number, max: number, fail: (reason: string) => never): void {
  if (args.length < min || args.length > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    fail(`takes ${expected} argument${max === 1 ? '' : 's'}, got ${args.length}`);
  }
}

function personOf(scope: RecordScope): Person {
  const { random } = scope.context;
  scope.person ??= {
    first: random.pick(FIRST_NAMES),
    last: random.pick(LAST_NAMES),
    domain: random.pick(EMAIL_DOMAINS),
  };
  return scope.person;
}

const HELPERS: Readonly<Record<string, HelperSpec>> = {
  seq: {
    usage: '[start]',
    compile(args, fail) {
      arity(args, 0, 1, fail);
      const start = args[0] === undefined ? 1 : numberArg(args[0], 'start', fail);
      return ({ context }) => start + context.seq - 1;
    },
  },
  uuid: {
    usage: '',
    compile(args, fail) {
      arity(args, 0, 0, fail);
      return ({ context }) => uuidV4(context.random);
    },
  },
  timestamp: {
    usage: '',
    compile(args, fail) {
      arity(args, 0, 0, fail);
      return ({ context }) => new Date(context.timestampMs).toISOString();
    },
  },
  randInt: {
    usage: '<min> <max>',
    compile(args, fail) {
      arity(args, 2, 2, fail);
      const min = numberArg(args[0], 'min', fail);
      const max = numberArg(args[1], 'max', fail);
      if (!Number.isInteger(min) || !Number.isInteger(max)) fail('min and max must be whole numbers');
      if (min > max) fail(`min ${min} is greater than max ${max}`);
      return ({ context }) => context.random.int(min, max);
    },
  },
  randFloat: {
    usage: '<min> <max> [decimals]',
    compile(args, fail) {
      arity(args, 2, 3, fail);
      const min = numberArg(args[0], 'min', fail);
      const max = numberArg(args[1], 'max', fail);
      if (min > max) fail(`min ${min} is greater than max ${max}`);
      const decimals = args[2] === undefined ? undefined : numberArg(args[2], 'decimals', fail);
      if (decimals !== undefined && (!Number.isInteger(decimals) || decimals < 0 || decimals > 15)) {
        fail('decimals must be a whole number from 0 to 15');
      }
      return ({ context }) => {
        const value = min + context.random.next() * (max - min);
        return decimals === undefined ? value : Number(value.toFixed(decimals));
      };
    },
  },
  pick: {
    usage: '<choice> <choice>…',
    compile(args, fail) {
      if (args.length === 0) fail('takes at least 1 argument, got 0');
      return ({ context }) => context.random.pick(args);
    },
  },
  firstName: {
    usage: '',
    compile(args, fail) {
      arity(args, 0, 0, fail);
      return (scope) => personOf(scope).first;
    },
  },
  lastName: {
    usage: '',
    compile(args, fail) {
      arity(args, 0, 0, fail);
      return (scope) => personOf(scope).last;
    },
  },
  name: {
    usage: '',
    compile(args, fail) {
      arity(args, 0, 0, fail);
      return (scope) => {
        const person = personOf(scope);
        return `${person.first} ${person.last}`;
      };
    },
  },
  email: {
    usage: '',
    compile(args, fail) {
      arity(args, 0, 0, fail);
      return (scope) => {
        const person = personOf(scope);
        return `${person.first}.${person.last}@${person.domain}`.toLowerCase();
      };
    },
  },
  city: {
    usage: '',
    compile(args, fail) {
      arity(args, 0, 0, fail);
      return ({ context }) => context.random.pick(CITIES);
    },
  },
};

/** The helper names, for help texts. */
export const HELPER_USAGE: readonly string[] = Object.entries(HELPERS).map(([name, spec]) =>
  spec.usage ? `${name} ${spec.usage}` : name,
);

const PLACEHOLDER = /\{\{(.*?)\}\}/g;

type Node = (scope: RecordScope) => unknown;

/** Parses and checks a template; `source` names it in errors (a file path). Throws UsageError. */
export function compileTemplate(text: string, source: string): Template {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`template ${source} is not valid JSON: ${(error as Error).message}`);
  }
  const root = compileNode(parsed, source, '$');
  return {
    render(context) {
      return root({ context });
    },
  };
}

function compileNode(value: unknown, source: string, path: string): Node {
  if (typeof value === 'string') return compileString(value, source, path);
  if (Array.isArray(value)) {
    const items = value.map((item, index) => compileNode(item, source, `${path}[${index}]`));
    return (scope) => items.map((item) => item(scope));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(
      ([key, item]) =>
        [
          compileString(key, source, `${path} key "${key}"`),
          compileNode(item, source, `${path}.${key}`),
        ] as const,
    );
    return (scope) => Object.fromEntries(entries.map(([key, item]) => [String(key(scope)), item(scope)]));
  }
  return () => value;
}

function compileString(text: string, source: string, path: string): Node {
  const parts: Array<string | ((scope: RecordScope) => Value)> = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(compilePlaceholder(match[1] ?? '', source, path));
    last = match.index + match[0].length;
  }
  if (parts.length === 0) return () => text;
  if (last < text.length) parts.push(text.slice(last));
  const [only] = parts;
  if (parts.length === 1 && typeof only === 'function') return only;
  return (scope) => parts.map((part) => (typeof part === 'string' ? part : String(part(scope)))).join('');
}

function compilePlaceholder(expression: string, source: string, path: string): (scope: RecordScope) => Value {
  const [name = '', ...args] = expression.trim().split(/\s+/).filter(Boolean);
  const where = `template ${source} at ${path}: {{${expression.trim()}}}`;
  const spec = Object.hasOwn(HELPERS, name) ? HELPERS[name] : undefined;
  if (!spec) {
    throw new UsageError(
      `${where}: unknown helper "${name}"; helpers are ${Object.keys(HELPERS).join(', ')}`,
    );
  }
  return spec.compile(args, (reason) => {
    throw new UsageError(
      `${where}: ${name} ${reason} (usage: {{${name}${spec.usage ? ` ${spec.usage}` : ''}}})`,
    );
  });
}

function uuidV4(random: Random): string {
  const bytes = Array.from({ length: 16 }, () => random.int(0, 255));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
