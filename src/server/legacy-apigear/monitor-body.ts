/**
 * The body of POST /monitor/{device} (legacy.md C): a JSON array of monitor events, or NDJSON
 * (`application/x-ndjson`, one event per line). Only the framing is checked here; the events
 * themselves are checked by the ingest domain, which names a bad one by index. A body that cannot
 * be read as events is a BadUserInputError, or a PayloadTooLargeError (413) past the limit.
 */
import { BadUserInputError, messageOf, PayloadTooLargeError } from '../../errors.ts';

/** Refuses bytes that are not UTF-8; a whole-input decode keeps no state between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reads the body as UTF-8 text, refusing it (413) as soon as it passes `limitBytes`. */
export async function readBodyText(
  request: Request,
  limitBytes: number,
  limitName = 'MONITOR_MAX_BODY_BYTES',
): Promise<string> {
  const length = request.headers.get('content-length');
  const declared = length === null ? Number.NaN : Number(length);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes, limitName);
  let bytes: Uint8Array;
  if (Number.isFinite(declared)) {
    // A declared length within the limit is what arrives (Node's HTTP parser holds the client to
    // it): read whole, without a web stream reader and its promise per chunk.
    bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > limitBytes) throw tooLarge(limitBytes, limitName);
  } else {
    if (!request.body) return '';
    bytes = await readCapped(request.body, limitBytes, limitName);
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new BadUserInputError('the body is not valid UTF-8');
  }
}

/** A body of undeclared length (chunked), refused as soon as it passes `limitBytes`. */
async function readCapped(body: ReadableStream<Uint8Array>, limitBytes: number, limitName: string) {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limitBytes, limitName);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limitBytes: number, limitName: string): PayloadTooLargeError {
  return new PayloadTooLargeError(`the body is larger than ${limitBytes} bytes (${limitName})`, {
    details: { limitBytes, limit: limitName },
  });
}

/** True for the NDJSON media types. */
export function isNdjson(contentType: string | null): boolean {
  return (
    /^\s*application\/(x-)?ndjson\b/i.test(contentType ?? '') ||
    /^\s*application\/jsonl\b/i.test(contentType ?? '')
  );
}

/** Parses the body into the list of events (not yet checked one by one); `noun` names them in errors. */
export function parseMonitorBody(text: string, contentType: string | null, noun = 'events'): unknown[] {
  if (isNdjson(contentType)) {
    const events: unknown[] = [];
    const lines = text.split('\n');
    for (const [index, raw] of lines.entries()) {
      const line = raw.trim();
      if (line === '') continue;
      try {
        events.push(JSON.parse(line));
      } catch (error) {
        throw new BadUserInputError(`line ${index + 1} is not valid JSON: ${messageOf(error)}`, {
          details: { line: index + 1 },
        });
      }
    }
    return events;
  }
  if (text.trim() === '') throw new BadUserInputError(`the body is empty: expected a JSON array of ${noun}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new BadUserInputError(`the body is not valid JSON: ${messageOf(error)}`);
  }
  if (!Array.isArray(body)) {
    throw new BadUserInputError(
      `the body must be a JSON array of ${noun}, got ${body === null ? 'null' : typeof body === 'object' ? 'an object' : typeof body}`,
    );
  }
  return body;
}
