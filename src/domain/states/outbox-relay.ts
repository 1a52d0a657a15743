import type { Database } from '../../db/create-database.ts';
import { AppError, type ErrorCode, messageOf } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import type { Broker, MessageHeaders } from '../../pubsub/broker.ts';
import { BrokerUnavailableError, isPermanentRefusal } from '../../pubsub/errors.ts';

/** @default 100: rows published per database transaction. */
const BATCH_SIZE = 100;

/** A row the broker refused for good, as its dead letter keeps it. */
export interface DeadLetter {
  /** The refusal's error code (FORBIDDEN, PAYLOAD_TOO_LARGE). */
  readonly code: ErrorCode;
  /** What the broker said. */
  readonly reason: string;
}

/**
 * What one flush did: the broker positions of the rows it published, the rows the broker refused
 * for good (now dead letters), and why it stopped early.
 */
export interface FlushResult {
  readonly positions: ReadonlyMap<bigint, string | undefined>;
  readonly deadLetters: ReadonlyMap<bigint, DeadLetter>;
  readonly error: Error | undefined;
}

/**
 * The relay of the transactional outbox (OutboxMessage): publishes persisted messages in id
 * order and deletes each once the broker has it. A failed publish stays in the table with its
 * error and is retried every interval, also after a restart, so nothing persisted is left
 * unpublished. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several instances on one
 * database never publish the same row at the same time.
 *
 * A row the broker refuses for good (pubsub/errors.ts `isPermanentRefusal`: over a size limit,
 * a subject it does not permit) is moved to OutboxDeadLetter with the refusal, logged once and
 * counted (state_outbox_dead_letters_total), and the next rows go on in order: retried, it would
 * have held every later row back for good. Any other failure stops the flush and is retried.
 */
export interface OutboxRelay {
  /** Publishes everything pending now; flushes on this instance run one at a time. */
  flush(): Promise<FlushResult>;
  /**
   * The dead letters among `ids`: for rows another flush handled (the interval's, another
   * instance's) while the caller's waited.
   */
  deadLettersOf(ids: readonly bigint[]): Promise<ReadonlyMap<bigint, DeadLetter>>;
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

/** A row moved to the dead letters in a batch: told once its transaction committed. */
interface DeadRow extends DeadLetter {
  readonly id: bigint;
  readonly subject: string;
}

/** Moves one claimed row, with the reason, into OutboxDeadLetter; its attempt counts. */
const MOVE_TO_DEAD_LETTERS = `
  WITH moved AS (
    DELETE FROM "OutboxMessage" WHERE "id" = $1
    RETURNING "id", "subject", "payload", "headers", "createdAt", "attempts"
  )
  INSERT INTO "OutboxDeadLetter" ("id", "subject", "payload", "headers", "createdAt", "attempts", "code", "reason")
  SELECT "id", "subject", "payload", "headers", "createdAt", "attempts" + 1, $2, $3 FROM moved
  ON CONFLICT ("id") DO NOTHING`;

export function createOutboxRelay(options: {
  db: Database;
  broker: Broker;
  log: Logger;
  /** state_outbox_dead_letters_total. */
  metrics: Metrics;
  intervalMs: number;
  publishTimeoutMs: number;
}): OutboxRelay {
  const { db, broker, log } = options;
  const deadLetters = options.metrics.counter({
    name: 'state_outbox_dead_letters_total',
    help: 'State messages of the transactional outbox the broker refused for good (refused), moved to the dead letters.',
    labelNames: ['reason'],
  });
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

  /**
   * One transaction: claim a batch, publish in order until one fails for now, delete what went
   * out and move what the broker refused for good to the dead letters.
   */
  const publishBatch = (positions: Map<bigint, string | undefined>) =>
    db.prisma.$transaction(
      async (tx) => {
        // base64 text rather than bytea: the PGlite adapter hands bytea back as a number array.
        const claimed = await tx.$queryRaw<OutboxRow[]>`
          SELECT id, subject, encode(payload, 'base64') AS payload, headers FROM "OutboxMessage"
          ORDER BY id LIMIT ${BATCH_SIZE} FOR UPDATE SKIP LOCKED`;
        const rows = claimed.map((row) => ({ ...row, id: BigInt(row.id) }));
        const published: bigint[] = [];
        const dead: DeadRow[] = [];
        let error: Error | undefined;
        for (const row of rows) {
          try {
            positions.set(row.id, await publishWithTimeout(row));
            published.push(row.id);
          } catch (caught) {
            const failure = caught instanceof Error ? caught : new Error(String(caught));
            if (isPermanentRefusal(failure)) {
              // isPermanentRefusal's errors are AppErrors; the code is what the writer answers.
              const code = failure instanceof AppError ? failure.code : 'INTERNAL';
              const reason = messageOf(failure);
              await tx.$executeRawUnsafe(MOVE_TO_DEAD_LETTERS, row.id, code, reason);
              dead.push({ id: row.id, subject: row.subject, code, reason });
              continue; // never publishable: the next rows go on
            }
            error = failure;
            await tx.outboxMessage.update({
              where: { id: row.id },
              data: { attempts: { increment: 1 }, lastError: error.message.slice(0, 1000) },
            });
            break; // keep the order: later rows wait for this one
          }
        }
        if (published.length > 0) await tx.outboxMessage.deleteMany({ where: { id: { in: published } } });
        return { claimed: rows.length, dead, error };
      },
      // Publishing happens inside the transaction; give it the publish timeout per row at worst.
      { timeout: options.publishTimeoutMs * 2 + 10_000, maxWait: 10_000 },
    );

  /** Logged and counted once the move committed (a rolled-back batch redoes it). */
  const told = (batch: readonly DeadRow[], dead: Map<bigint, DeadLetter>) => {
    for (const row of batch) {
      dead.set(row.id, { code: row.code, reason: row.reason });
      deadLetters.inc({ reason: 'refused' });
      log.warn(
        { outboxId: String(row.id), subject: row.subject, reason: row.reason },
        'outbox: message refused by the broker for good; kept as a dead letter, the outbox goes on',
      );
    }
  };

  const run = async (): Promise<FlushResult> => {
    const positions = new Map<bigint, string | undefined>();
    const dead = new Map<bigint, DeadLetter>();
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
      if (!pending?.pending) return { positions, deadLetters: dead, error: settle(undefined) };
      for (;;) {
        const batch = await publishBatch(positions);
        told(batch.dead, dead);
        if (batch.error) throw batch.error;
        if (batch.claimed < BATCH_SIZE) break;
      }
    } catch (caught) {
      error = caught instanceof Error ? caught : new Error(String(caught));
    }
    return { positions, deadLetters: dead, error: settle(error) };
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
    async deadLettersOf(ids) {
      if (ids.length === 0) return new Map();
      const rows = await db.sql.query<{ id: string; code: ErrorCode; reason: string }>(
        'SELECT "id"::text AS "id", "code", "reason" FROM "OutboxDeadLetter" WHERE "id" = ANY($1::bigint[])',
        [ids.map(String)],
      );
      return new Map(rows.map((row) => [BigInt(row.id), { code: row.code, reason: row.reason }]));
    },
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
