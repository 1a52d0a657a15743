/**
 * The body of POST /monitor/{device} (legacy.md C): a JSON array of monitor events, or NDJSON
 * (`application/x-ndjson`, one event per line). Only the framing is checked here; the events
 * themselves are checked by the ingest domain, which names a bad one by index.
 */

/** A body that cannot be read as events; `status` is what the route answers. */
export class MonitorBodyError extends Error {
  readonly status: 400 | 413;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(status: 400 | 413, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'MonitorBodyError';
    this.status = status;
    this.details = details;
  }
}

/** Reads the body as UTF-8 text, refusing it (413) as soon as it passes `limitBytes`. */
export async function readBodyText(
  request: Request,
  limitBytes: number,
  limitName = 'MONITOR_MAX_BODY_BYTES',
): Promise<string> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes, limitName);
  if (!request.body) return '';
  const reader = request.body.getReader();
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
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new MonitorBodyError(400, 'the body is not valid UTF-8');
  }
}

function tooLarge(limitBytes: number, limitName: string): MonitorBodyError {
  return new MonitorBodyError(413, `the body is larger than ${limitBytes} bytes (${limitName})`, {
    limitBytes,
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
        throw new MonitorBodyError(400, `line ${index + 1} is not valid JSON: ${reason(error)}`, {
          line: index + 1,
        });
      }
    }
    return events;
  }
  if (text.trim() === '')
    throw new MonitorBodyError(400, `the body is empty: expected a JSON array of ${noun}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new MonitorBodyError(400, `the body is not valid JSON: ${reason(error)}`);
  }
  if (!Array.isArray(body)) {
    throw new MonitorBodyError(
      400,
      `the body must be a JSON array of ${noun}, got ${body === null ? 'null' : typeof body === 'object' ? 'an object' : typeof body}`,
    );
  }
  return body;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
