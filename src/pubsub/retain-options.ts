import type { RetainOptions } from './broker.ts';

/** A retained window needs a positive age and, if given, a positive message count. */
export function assertRetainOptions(options: RetainOptions): void {
  if (!Number.isFinite(options.maxAgeMs) || options.maxAgeMs <= 0) {
    throw new RangeError(
      `retain: maxAgeMs must be a positive number of milliseconds, not ${options.maxAgeMs}`,
    );
  }
  if (
    options.maxMessages !== undefined &&
    (!Number.isInteger(options.maxMessages) || options.maxMessages <= 0)
  ) {
    throw new RangeError(`retain: maxMessages must be a positive integer, not ${options.maxMessages}`);
  }
}
