import { InvalidArgumentError } from 'commander';
import { DURATION_FORMS, parseDuration } from '../config/duration.ts';

// Commander turns an InvalidArgumentError into "error: option '…' argument '…' is invalid. <reason>"
// with exit code 2 (see main.ts), so every parser below states only what was expected.

/** A whole number ≥ 1, e.g. a record count. */
export function parsePositiveInt(text: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError('Expected a whole number of at least 1.');
  }
  return value;
}

/** A duration in milliseconds: "1500ms", "1s", "5m", "PT5M"; 0 is allowed. */
export function parseDurationMs(text: string): number {
  const value = parseDuration(text);
  if (value === undefined) throw new InvalidArgumentError(`Expected a duration such as ${DURATION_FORMS}.`);
  return value;
}

/** A replay speed: a finite number ≥ 0 (0 = as fast as the client reads). */
export function parseSpeed(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError('Expected a finite number of at least 0 (0 = as fast as possible).');
  }
  return value;
}

/** An instant as ISO-8601 (e.g. 2026-01-15T10:30:00Z) or epoch milliseconds; returned as ISO-8601. */
export function parseInstant(text: string): string {
  const millis = /^\d+$/.test(text.trim()) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(millis) || !/\d/.test(text)) {
    throw new InvalidArgumentError('Expected an ISO-8601 date-time such as 2026-01-15T10:30:00Z.');
  }
  return new Date(millis).toISOString();
}

/** A server base URL (http or https). */
export function parseServerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError('Expected an http(s) URL such as http://127.0.0.1:4000.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError('Expected an http(s) URL such as http://127.0.0.1:4000.');
  }
  return url.href.replace(/\/+$/, '');
}

/** A non-empty identifier, e.g. a device id. */
export function parseId(text: string): string {
  if (text.trim() === '') throw new InvalidArgumentError('Expected a non-empty id.');
  return text;
}

/** A TCP port, 0 to 65535 (0 picks a free one). */
export function parsePort(text: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || value > 65535)
    throw new InvalidArgumentError('Expected a port from 0 to 65535.');
  return value;
}
