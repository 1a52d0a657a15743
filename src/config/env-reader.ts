import { DURATION_FORMS, parseDuration } from './duration.ts';

/** One thing wrong with the environment: the variable, the value seen and what was expected. */
export interface ConfigProblem {
  readonly variable: string;
  readonly value: string;
  readonly expected: string;
}

/** Thrown by loadConfig when any variable is bad; `problems` lists every one, not just the first. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(problem: ConfigProblem): string {
  return `config: ${problem.variable}=${JSON.stringify(problem.value)} is invalid: expected ${problem.expected}`;
}

/**
 * Typed readers over an environment that collect every problem instead of stopping at the first,
 * so that a bad start-up names all the variables to fix at once.
 */
export class EnvReader {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  /** The raw value, or undefined when unset or empty. */
  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    const min = range.min ?? Number.MIN_SAFE_INTEGER;
    const max = range.max ?? Number.MAX_SAFE_INTEGER;
    if (!/^-?\d+$/.test(value) || parsed < min || parsed > max) {
      return this.problem(name, value, `an integer from ${min} to ${max}`, fallback);
    }
    return parsed;
  }

  number(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    const min = range.min ?? -Infinity;
    const max = range.max ?? Infinity;
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
      return this.problem(name, value, `a number from ${min} to ${max}`, fallback);
    }
    return parsed;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (/^(true|1|yes|on)$/i.test(value)) return true;
    if (/^(false|0|no|off)$/i.test(value)) return false;
    return this.problem(name, value, 'true or false', fallback);
  }

  /** A duration in milliseconds. */
  duration(name: string, fallbackMs: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallbackMs;
    const parsed = parseDuration(value);
    return parsed === undefined
      ? this.problem(name, value, `a duration such as ${DURATION_FORMS}`, fallbackMs)
      : parsed;
  }

  /** A duration in milliseconds where a bare number means seconds (as some legacy variables took it). */
  durationOrSeconds(name: string, fallbackMs: number): number {
    const value = this.raw(name);
    return value !== undefined && /^\d+$/.test(value)
      ? Number(value) * 1000
      : this.duration(name, fallbackMs);
  }

  /** Byte sizes: a number of bytes, or with a unit ("512kb", "1mb", "10MiB"). */
  bytes(name: string, fallback: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const match = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(value);
    if (!match)
      return this.problem(name, value, 'a size in bytes such as 1048576, "512kb" or "1mb"', fallback);
    const unit = (match[2] ?? 'b').toLowerCase();
    const factor = unit.startsWith('k')
      ? 1024
      : unit.startsWith('m')
        ? 1024 ** 2
        : unit.startsWith('g')
          ? 1024 ** 3
          : 1;
    return Math.round(Number(match[1]) * factor);
  }

  oneOf<const T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    const choice = choices.find((candidate) => candidate === lower);
    return choice ?? this.problem(name, value, `one of ${choices.join(', ')}`, fallback);
  }

  /** A comma-separated list. */
  list(name: string, fallback: readonly string[]): string[] {
    const value = this.raw(name);
    if (value === undefined) return [...fallback];
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0);
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    try {
      const parsed = new URL(value);
      if (protocols.includes(parsed.protocol.replace(/:$/, ''))) return value;
    } catch {
      // reported below
    }
    return this.problem(name, value, `a URL with scheme ${protocols.join(' or ')}`, undefined);
  }

  /** Records a problem found by a rule that spans several variables. */
  report(variable: string, value: string, expected: string): void {
    this.problems.push({ variable, value, expected });
  }

  private problem<T>(variable: string, value: string, expected: string, fallback: T): T {
    this.problems.push({ variable, value, expected });
    return fallback;
  }
}
