import type { Database } from '../../db/create-database.ts';
import type { Logger } from '../../log.ts';
import type { Broker, MessageHeaders } from '../../pubsub/broker.ts';
import { BrokerUnavailableError } from '../../pubsub/errors.ts';

/** @default 100: rows published per database transaction. */
const BATCH_SIZE = 100;

/** What one flush did: the broker positions of the rows it published, and why it stopped early. */
export interface FlushResult {
  readonly positions: ReadonlyMap<bigint, string | undefined>;
  readonly error: Error | undefined;
}

/**
 * The relay of the transactional outbox (OutboxMessage): publishes persisted messages in id
 * order and deletes each once the broker has it. A failed publish stays in the table with its
 * error and is retried every interval, also after a restart, so nothing persisted is left
 * unpublished. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several instances on one
 * database never publish the same row at the same time.
 */
export interface OutboxRelay {
  /** Publishes everything pending now; flushes on this instance run one at a time. */
  flush(): Promise<FlushResult>;
  /** Retries on an interval until `stop`. */
  start(): void;
  stop(): Promise<void>;
}

interface OutboxRow {
  id: bigint;
  subject: string;
  /** base64 */
  payload: string;
  headers: unknown;
}

export function createOutboxRelay(options: {
  db: Database;
  broker: Broker;
  log: Logger;
  intervalMs: number;
  publishTimeoutMs: number;
}): OutboxRelay {
  const { db, broker, log } = options;
  let queue: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let failing = false;

  const publishWithTimeout = async (row: OutboxRow): Promise<string | undefined> => {
    let clock: NodeJS.Timeout | undefined;
    try {
      const receipt = await Promise.race([
        broker.publish(row.subject, Buffer.from(row.payload, 'base64'), { headers: toHeaders(row.headers) }),
        new Promise<never>((_, reject) => {
          clock = setTimeout(
            () =>
              reject(
                new BrokerUnavailableError(`publish to "${row.subject}" got no acknowledgement in time`),
              ),
            options.publishTimeoutMs,
          );
        }),
      ]);
      return receipt.position;
    } finally {
      clearTimeout(clock);
    }
  };

  /** One transaction: claim a batch, publish in order until one fails, delete what went out. */
  const publishBatch = (positions: Map<bigint, string | undefined>) =>
    db.prisma.$transaction(
      async (tx) => {
        // base64 text rather than bytea: the PGlite adapter hands bytea back as a number array.
        const claimed = await tx.$queryRaw<OutboxRow[]>`
          SELECT id, subject, encode(payload, 'base64') AS payload, headers FROM "OutboxMessage"
          ORDER BY id LIMIT ${BATCH_SIZE} FOR UPDATE SKIP LOCKED`;
        const rows = claimed.map((row) => ({ ...row, id: BigInt(row.id) }));
        const published: bigint[] = [];
        let error: Error | undefined;
        for (const row of rows) {
          try {
            positions.set(row.id, await publishWithTimeout(row));
            published.push(row.id);
          } catch (caught) {
            error = caught instanceof Error ? caught : new Error(String(caught));
            await tx.outboxMessage.update({
              where: { id: row.id },
              data: { attempts: { increment: 1 }, lastError: error.message.slice(0, 1000) },
            });
            break; // keep the order: later rows wait for this one
          }
        }
        if (published.length > 0) await tx.outboxMessage.deleteMany({ where: { id: { in: published } } });
        return { claimed: rows.length, error };
      },
      // Publishing happens inside the transaction; give it the publish timeout per row at worst.
      { timeout: options.publishTimeoutMs * 2 + 10_000, maxWait: 10_000 },
    );

  const run = async (): Promise<FlushResult> => {
    const positions = new Map<bigint, string | undefined>();
    let error: Error | undefined;
    try {
      const health = broker.health();
      if (health.status !== 'connected') {
        // Fail fast: a publish to a broker that is away may wait for the reconnect.
        throw new BrokerUnavailableError(`the ${broker.kind} broker is ${health.status}`);
      }
      // A plain-SQL look first: the relay ticks every second on an idle server, and an empty
      // Prisma interactive transaction (three round trips and Prisma's per-query CPU) was a
      // burst that delayed whatever the server was delivering at that moment.
      const [pending] = await db.sql.query<{ pending: boolean }>(
        'SELECT EXISTS (SELECT 1 FROM "OutboxMessage") AS "pending"',
      );
      if (!pending?.pending) return { positions, error: settle(undefined) };
      for (;;) {
        const batch = await publishBatch(positions);
        if (batch.error) throw batch.error;
        if (batch.claimed < BATCH_SIZE) break;
      }
    } catch (caught) {
      error = caught instanceof Error ? caught : new Error(String(caught));
    }
    return { positions, error: settle(error) };
  };

  /** Logs the change between failing and publishing, once each way. */
  const settle = (error: Error | undefined): Error | undefined => {
    if (error && !failing)
      log.warn({ err: error }, 'outbox: publishing failed; retrying until the broker is back');
    if (!error && failing) log.info('outbox: publishing again');
    failing = error !== undefined;
    return error;
  };

  const flush = (): Promise<FlushResult> => {
    const result = queue.then(run, run);
    queue = result;
    return result;
  };

  return {
    flush,
    start() {
      if (timer) return;
      const tick = () => {
        flush().finally(() => {
          if (timer) timer = setTimeout(tick, options.intervalMs);
        });
      };
      timer = setTimeout(tick, 0);
    },
    async stop() {
      clearTimeout(timer);
      timer = undefined;
      await queue.catch(() => undefined);
    },
  };
}

function toHeaders(value: unknown): MessageHeaders | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    ),
  );
}
