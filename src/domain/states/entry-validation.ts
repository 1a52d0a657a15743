import { BadUserInputError, LimitExceededError, PayloadTooLargeError } from '../../errors.ts';
import type { JsonObject } from './state-messages.ts';

/** Size limits of one publish, from config (STATE_MAX_ENTRIES, STATE_MAX_ENTRY_BYTES). */
export interface EntryLimits {
  readonly maxEntries: number;
  readonly maxEntryBytes: number;
}

/**
 * Checks a batch of entries before anything is written: non-empty, within the count limit, each
 * a JSON object within the size limit. The first bad entry rejects the whole batch, named by index.
 */
export function validateEntries(entries: readonly unknown[], limits: EntryLimits): JsonObject[] {
  if (entries.length === 0) {
    throw new BadUserInputError('entries: at least one entry is required', { details: { field: 'entries' } });
  }
  if (entries.length > limits.maxEntries) {
    throw new LimitExceededError(
      `entries: ${entries.length} entries in one call, at most ${limits.maxEntries} are allowed (STATE_MAX_ENTRIES)`,
      { details: { field: 'entries', limit: limits.maxEntries } },
    );
  }
  return entries.map((entry, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new BadUserInputError(`entries[${index}]: expected a JSON object, got ${describe(entry)}`, {
        details: { field: 'entries', index },
      });
    }
    const bytes = Buffer.byteLength(JSON.stringify(entry), 'utf8');
    if (bytes > limits.maxEntryBytes) {
      throw new PayloadTooLargeError(
        `entries[${index}]: ${bytes} bytes as JSON, at most ${limits.maxEntryBytes} are allowed (STATE_MAX_ENTRY_BYTES)`,
        { details: { field: 'entries', index, limit: limits.maxEntryBytes } },
      );
    }
    return entry as JsonObject;
  });
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
