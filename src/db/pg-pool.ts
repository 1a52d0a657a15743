/**
 * The pg connection pool of a Postgres database (Prisma's adapter and the plain-SQL hot paths
 * share it), hardened against a database that dies under it.
 *
 * Why a subclass: Prisma's interactive transactions (6.19, driver adapters) release their
 * connection only after COMMIT or ROLLBACK succeeded. When the database is killed mid-transaction
 * both fail, and the connection is never given back: the pool keeps counting it, so a few
 * crashes exhaust the pool, every later query waits for a free connection forever, and
 * `pool.end()` never returns (a shutdown that hangs). Here a checked-out connection whose socket
 * fails is released at once with its error, so the pool destroys it and opens a fresh one, and a
 * second release of it (Prisma's, or ours after a failed ROLLBACK) is a no-op.
 */
import pg from 'pg';

/** How the pool waits on a database that does not answer (DatabaseConfig). */
export interface PgPoolTimeouts {
  /** How long to wait for a connection, new or free, before the query fails as unavailable. */
  readonly connectTimeoutMs: number;
  /** Postgres `statement_timeout` of every pooled connection; 0 = none. */
  readonly statementTimeoutMs: number;
}

/** @default 10: connections per process. */
const POOL_SIZE = 10;
/** TCP keep-alive probes find a peer that vanished without closing (a host down, a partition). */
const KEEP_ALIVE_DELAY_MS = 10_000;
/**
 * Postgres ends a session that sits in an open transaction this long: a connection lost by its
 * holder cannot keep its row locks (and block every writer of that state) for ever.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

type ConnectCallback = (
  error: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: Error | boolean) => void,
) => void;

class GuardedPool extends pg.Pool {
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    // pool.query() checks out through connect(callback), so its connections are guarded too.
    if (!callback) return super.connect().then(guardCheckout);
    super.connect((error, client, done) => {
      if (error || !client) {
        callback(error, client, done);
        return;
      }
      const guarded = guardCheckout(client);
      callback(undefined, guarded, guarded.release);
    });
    return undefined;
  }
}

/**
 * One checkout of `client`: released (and so destroyed by the pool) as soon as its connection
 * fails, whoever holds it; further releases of the same checkout do nothing.
 */
function guardCheckout(client: pg.PoolClient): pg.PoolClient {
  const release = client.release.bind(client);
  let released = false;
  const finish = (error?: Error | boolean) => {
    if (released) return;
    released = true;
    client.off('error', onError);
    release(error);
  };
  // Also what keeps an 'error' of a checked-out connection from being an uncaught exception.
  const onError = (error: Error) => finish(error);
  client.on('error', onError);
  client.release = finish;
  return client;
}

export function createPgPool(url: string, timeouts: PgPoolTimeouts): pg.Pool {
  const pool = new GuardedPool({
    connectionString: url,
    max: POOL_SIZE,
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEP_ALIVE_DELAY_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    ...(timeouts.statementTimeoutMs > 0 ? { statement_timeout: timeouts.statementTimeoutMs } : {}),
  });
  // An idle connection that dies is removed by the pool itself; the next query opens a new one.
  // Without a listener its 'error' would be an uncaught exception before Prisma adds its own.
  pool.on('error', () => {});
  return pool;
}
