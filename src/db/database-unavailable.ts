/**
 * Recognising "the database cannot be reached right now", as opposed to a bad query: such
 * failures are UNAVAILABLE (HTTP 503 with Retry-After) like a broker outage, not INTERNAL.
 */

/** Prisma's codes for an unreachable or vanished server, a timed-out pool or connection. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** Driver adapter error kinds (Prisma 6) that mean the connection, not the query, failed. */
const ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);
/** SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, starting up). */
const SQLSTATE = /^(08|57P)/;
/**
 * What node-postgres and Node's sockets say when there is no server, or it went away, or no
 * connection came within DATABASE_CONNECT_TIMEOUT (src/db/pg-pool.ts), or a query was sent on a
 * connection that had just failed.
 */
const DRIVER_MESSAGES =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection terminated|Can't reach database server|server closed the connection|the database system is (starting up|shutting down|in recovery mode)|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable/i;

/** True when `error` (or an error it wraps) says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    if (typeof current !== 'object') return false;
    const { code, kind, message, cause, meta } = current as {
      code?: unknown;
      kind?: unknown;
      message?: unknown;
      cause?: unknown;
      meta?: { driverAdapterError?: unknown };
    };
    if (typeof code === 'string' && (PRISMA_CODES.has(code) || SQLSTATE.test(code))) return true;
    if (typeof kind === 'string' && ADAPTER_KINDS.has(kind)) return true;
    if (typeof message === 'string' && DRIVER_MESSAGES.test(message)) return true;
    // A raw query's failure (P2010, "Raw query failed. Code: `57P01`") keeps the driver's error
    // under meta, not as its cause.
    current = cause ?? meta?.driverAdapterError;
  }
  return false;
}
