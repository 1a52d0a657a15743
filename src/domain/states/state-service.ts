import { randomUUID } from 'node:crypto';
import type { Config } from '../../config/config.ts';
import type { Database } from '../../db/create-database.ts';
import {
  AppError,
  BadUserInputError,
  LimitExceededError,
  NotFoundError,
  PayloadTooLargeError,
  UnavailableError,
} from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { limitRefusals, type Metrics } from '../../metrics.ts';
import type { Broker } from '../../pubsub/broker.ts';
import type { BrokerMessageBounds } from '../broker-message-bounds.ts';
import { type Page, pageArgs, toPage } from '../pagination.ts';
import type { Route } from '../routes/route-matching.ts';
import type { RouteService } from '../routes/route-service.ts';
import { TtlCache } from '../ttl-cache.ts';
import { scopedKey, tenantKey, tenantOfKey } from '../viewer.ts';
import { validateEntries } from './entry-validation.ts';
import { writeEntries, writeNetworkBatch } from './entry-writer.ts';
import { createOutboxRelay, type DeadLetter, type FlushResult, type OutboxRelay } from './outbox-relay.ts';
import { assertStateToken } from './state-ids.ts';
import { type StateEvent, streamStateEvents } from './state-stream.ts';

/** A state of the ISM network, as the API shows it. */
export interface State {
  readonly id: string;
  readonly tenantId: string | null;
  readonly name: string | null;
  readonly createdAt: Date;
}

/** One persisted entry. */
export interface StateEntry {
  readonly id: string;
  readonly stateId: string;
  readonly sessionId: string | null;
  readonly seq: bigint;
  readonly data: Record<string, unknown>;
  readonly createdAt: Date;
}

/** What publishStateEntries reports. */
export interface PublishResult {
  readonly accepted: number;
  readonly position: string | null;
}

export interface PublishOptions {
  /**
   * Makes a repeated publish of the same batch a no-op: a caller that retries after a failure
   * whose outcome it cannot know (the database died around COMMIT) passes the same key each
   * time, and a batch already written under it is not written again (the sync store).
   */
  readonly retryKey?: string;
}

/**
 * Who asks, for tenancy: the tenant of the caller (tenantOf(viewer)), null for the default
 * tenant (no tenant: the network's sync store, legacy clients, single-tenant deployments).
 * Ids are scoped per tenant: every method reads and writes the caller's tenant's state of that
 * id, so another tenant's state of the same id answers exactly as an absent one.
 */
export type Tenant = string | null;

export interface StateService {
  /** BAD_USER_INPUT when the caller's tenant has a state of that id already. */
  create(input: { id?: string | null; name?: string | null }, tenant: Tenant): Promise<State>;
  /** The caller's tenant's state of that id, or null. */
  find(id: string, tenant: Tenant): Promise<State | null>;
  list(
    first: number | null | undefined,
    after: string | null | undefined,
    tenant: Tenant,
  ): Promise<Page<State>>;
  /** Entries of a state, oldest first; NOT_FOUND for an unknown state. */
  entries(
    stateId: string,
    args: { sessionId?: string | null; first?: number | null; after?: string | null },
    tenant: Tenant,
  ): Promise<Page<StateEntry>>;
  /** One entry by id; null when unknown or its state is another tenant's. */
  findEntry(id: string, tenant: Tenant): Promise<StateEntry | null>;
  entryCount(stateId: string, tenant: Tenant): Promise<number>;
  /** Routes whose selector matches the state. */
  routesOf(stateId: string): Promise<Route[]>;
  /**
   * Validates, persists all entries in one transaction, then publishes one `query_state_entry`
   * on the state's subject (and the session's) and along every matching route, through the
   * outbox. UNAVAILABLE when the broker is away: the entries are kept and published later.
   * An unknown state is created in the caller's tenant.
   */
  publish(
    stateId: string,
    sessionId: string | null,
    entries: readonly unknown[],
    tenant: Tenant,
    options?: PublishOptions,
  ): Promise<PublishResult>;
  /**
   * The sync store's write: several messages of the network validated and persisted in one
   * transaction (writeNetworkBatch; the default tenant's states, as publish with tenant null), then one
   * outbox flush for all. `retryKey` as in PublishOptions, for the whole batch. A bad message
   * fails the whole batch before anything is written (the caller writes them one by one then);
   * UNAVAILABLE with step "publish" as publish's when the broker is away.
   */
  publishFromNetwork(
    messages: ReadonlyArray<{
      stateId: string;
      sessionId: string | null;
      entries: readonly unknown[];
      /** The message's own key where the broker may deliver it again (NetworkWrite.key). */
      key?: string | undefined;
    }>,
    retryKey: string,
  ): Promise<{ accepted: number }>;
  /** Live events of the caller's tenant's state or session (its tenant's subject, subjects.state). */
  stream(
    stateId: string,
    sessionId: string | null,
    tenant: Tenant,
  ): Promise<AsyncIterableIterator<StateEvent>>;
  readonly outbox: OutboxRelay;
}

interface StateRow {
  id: string;
  tenantId: string;
  name: string | null;
  createdAt: Date;
}

function toState(row: StateRow): State {
  return { ...row, tenantId: tenantOfKey(row.tenantId) };
}

/** The limit a refusal of validateEntries is for, by its kind (entry-validation.ts). */
function entryLimitOf(error: unknown): string | undefined {
  if (error instanceof LimitExceededError) return 'STATE_MAX_ENTRIES';
  if (error instanceof PayloadTooLargeError) return 'STATE_MAX_ENTRY_BYTES';
  return undefined;
}

const STATE_PAGE = 50;
const ENTRY_PAGE = 100;

export function createStateService(options: {
  config: Config;
  db: Database;
  broker: Broker;
  log: Logger;
  /** limit_refusals_total: a publish refused for STATE_MAX_ENTRIES, _ENTRY_BYTES or _MESSAGE_BYTES. */
  metrics: Metrics;
  routes: RouteService;
  /** What a message read from the broker must hold to reach a stateStream subscriber. */
  messageBounds: BrokerMessageBounds;
}): StateService {
  const { config, db, broker, routes } = options;
  const { prisma } = db;
  const refusals = limitRefusals(options.metrics);
  /** Counts a refusal of one of the state limits (docs/limits.md); the error goes on. */
  const refused = (limit: string | undefined, error: unknown): never => {
    if (limit !== undefined) refusals.inc({ limit });
    throw error;
  };
  const cache = new TtlCache<string, StateRow | null>(config.ism.stateCacheTtlMs);
  const outbox = createOutboxRelay({
    db,
    broker,
    log: options.log,
    metrics: options.metrics,
    intervalMs: config.ism.outboxRetryIntervalMs,
    publishTimeoutMs: config.broker.requestTimeoutMs,
  });

  const load = (id: string, tenant: Tenant) =>
    cache.get(scopedKey(tenant, id), () =>
      prisma.state.findUnique({
        where: { tenantId_id: { tenantId: tenantKey(tenant), id } },
        select: { id: true, tenantId: true, name: true, createdAt: true },
      }),
    );

  const find = async (id: string, tenant: Tenant): Promise<State | null> => {
    const state = await load(id, tenant);
    return state ? toState(state) : null;
  };

  const requireVisible = async (id: string, tenant: Tenant): Promise<State> => {
    const state = await find(id, tenant);
    if (!state) throw new NotFoundError('state', id);
    return state;
  };

  return {
    outbox,
    find,

    async create(input, tenant) {
      const id = input.id ?? randomUUID();
      assertStateToken('stateId', id);
      const created = await prisma.state.createManyAndReturn({
        data: [{ id, tenantId: tenantKey(tenant), name: input.name ?? null }],
        skipDuplicates: true,
      });
      cache.delete(scopedKey(tenant, id));
      const [state] = created;
      if (!state)
        throw new BadUserInputError(`id: a state "${id}" already exists`, { details: { field: 'id' } });
      return toState(state);
    },

    async list(first, after, tenant) {
      const page = pageArgs(first, after, STATE_PAGE);
      const rows = await prisma.state.findMany({
        where: {
          tenantId: tenantKey(tenant),
          ...(page.after === undefined ? {} : { id: { gt: page.after } }),
        },
        orderBy: { id: 'asc' },
        take: page.first + 1,
      });
      return toPage(rows, page.first, (row) => row.id, toState);
    },

    async entries(stateId, args, tenant) {
      await requireVisible(stateId, tenant);
      const page = pageArgs(args.first, args.after, ENTRY_PAGE);
      const afterSeq = page.after === undefined ? undefined : parseSeqCursor(args.after ?? '', page.after);
      const where = {
        tenantId: tenantKey(tenant),
        stateId,
        ...(args.sessionId == null ? {} : { sessionId: args.sessionId }),
      };
      const rows = await prisma.stateEntry.findMany({
        where: { ...where, ...(afterSeq === undefined ? {} : { seq: { gt: afterSeq } }) },
        orderBy: { seq: 'asc' },
        take: page.first + 1,
      });
      return toPage(
        rows,
        page.first,
        (row) => row.seq.toString(),
        (row) => ({ ...row, data: row.data as Record<string, unknown> }),
        () => prisma.stateEntry.count({ where }),
      );
    },

    async findEntry(id, tenant) {
      const row = await prisma.stateEntry.findUnique({ where: { id } });
      if (!row || row.tenantId !== tenantKey(tenant)) return null;
      return { ...row, data: row.data as Record<string, unknown> };
    },

    entryCount: (stateId, tenant) =>
      prisma.stateEntry.count({ where: { tenantId: tenantKey(tenant), stateId } }),

    async routesOf(stateId) {
      return (await routes.table()).matching(stateId);
    },

    async publish(stateId, sessionId, rawEntries, tenant, publishOptions = {}) {
      assertStateToken('stateId', stateId);
      if (sessionId !== null) assertStateToken('sessionId', sessionId);
      // Every write path (GraphQL, the legacy socket, the sync store message by message after a
      // refused batch) comes through here, so each refusal is counted once; publishFromNetwork
      // does not count, or a batch refused for one message would count it twice.
      let entries: ReturnType<typeof validateEntries>;
      try {
        entries = validateEntries(rawEntries, config.ism);
      } catch (error) {
        return refused(entryLimitOf(error), error);
      }
      const matching = (await routes.table()).matching(stateId);
      const written = await writeEntries(
        db,
        {
          stateId,
          sessionId,
          entries,
          tenant,
          routes: matching,
          retryKey: publishOptions.retryKey,
        },
        config.ism,
      ).catch((error: unknown) =>
        // The writer's only PAYLOAD_TOO_LARGE: the message the entries make.
        refused(error instanceof PayloadTooLargeError ? 'STATE_MAX_MESSAGE_BYTES' : undefined, error),
      );
      // The state exists now: drop a cached "not found".
      if (written.createdState) cache.delete(scopedKey(tenant, stateId));
      const flushed = await flushWritten(written.outboxIds, entries.length, written);
      const [stateRow] = written.outboxIds;
      return {
        accepted: entries.length,
        position: stateRow === undefined ? null : (flushed.positions.get(stateRow) ?? null),
      };
    },

    async publishFromNetwork(messages, retryKey) {
      const table = await routes.table();
      const writes = messages.map(({ stateId, sessionId, entries, key }) => {
        assertStateToken('stateId', stateId);
        if (sessionId !== null) assertStateToken('sessionId', sessionId);
        return {
          stateId,
          sessionId,
          entries: validateEntries(entries, config.ism),
          routes: table.matching(stateId),
          key,
        };
      });
      const written = await writeNetworkBatch(db, writes, retryKey, config.ism);
      // The states exist now, whoever created them: drop cached "not found"s.
      for (const stateId of written.stateIds) cache.delete(scopedKey(null, stateId));
      // The relay publishes in id order: everything pending goes, this batch's rows with it.
      const flushed = await outbox.flush();
      if (flushed.error && written.written > 0) {
        throw new UnavailableError(
          `${written.written} messages were persisted but publishing them failed: ${flushed.error.message}; publishing will be retried until the broker is back`,
          { cause: flushed.error, details: { step: 'publish', persisted: written.written } },
        );
      }
      return { accepted: written.written };
    },

    async stream(stateId, sessionId, tenant) {
      assertStateToken('stateId', stateId);
      if (sessionId !== null) assertStateToken('sessionId', sessionId);
      // A state that streamgate has never stored is still a stream on the network (legacy.md A),
      // so no lookup: the caller's tenant's subject of that id is the stream, and another
      // tenant's state of the same id is on another subject (subjects.state).
      return streamStateEvents(broker, tenant, stateId, sessionId, options.messageBounds);
    },
  };

  /**
   * Flushes the outbox; UNAVAILABLE (step "publish") when rows of this write stay unpublished, the
   * broker's refusal (its code: FORBIDDEN, PAYLOAD_TOO_LARGE) when it refused one for good.
   */
  async function flushWritten(
    outboxIds: readonly bigint[],
    count: number,
    range: { firstSeq: bigint; lastSeq: bigint },
  ) {
    const flushed = await outbox.flush();
    const refusal = await refusalOf(outboxIds, flushed);
    if (refusal) {
      // Persisted, and never publishable: retrying the write would persist it again, to no end.
      throw new AppError(
        refusal.code,
        `the ${count} entries were persisted (seq ${range.firstSeq}..${range.lastSeq}) but the broker refused their message for good: ${refusal.reason}; it is kept as a dead letter`,
        {
          details: {
            step: 'publish',
            persisted: count,
            firstSeq: Number(range.firstSeq),
            lastSeq: Number(range.lastSeq),
            deadLetter: true,
          },
        },
      );
    }
    const unpublished = outboxIds.filter((id) => !flushed.positions.has(id));
    if (flushed.error && unpublished.length > 0 && (await stillPending(unpublished))) {
      throw new UnavailableError(
        `the ${count} entries were persisted (seq ${range.firstSeq}..${range.lastSeq}) but publishing them failed: ${flushed.error.message}; publishing will be retried until the broker is back`,
        {
          cause: flushed.error,
          details: {
            step: 'publish',
            persisted: count,
            firstSeq: Number(range.firstSeq),
            lastSeq: Number(range.lastSeq),
          },
        },
      );
    }
    return flushed;
  }

  /**
   * The first of the write's rows the broker refused for good: in this flush, or in one that ran
   * meanwhile (the interval's, another instance's) and took rows this one then did not see.
   */
  async function refusalOf(ids: readonly bigint[], flushed: FlushResult): Promise<DeadLetter | undefined> {
    const unseen = ids.filter((id) => !flushed.positions.has(id) && !flushed.deadLetters.has(id));
    const elsewhere = unseen.length === 0 ? undefined : await outbox.deadLettersOf(unseen);
    for (const id of ids) {
      const letter = flushed.deadLetters.get(id) ?? elsewhere?.get(id);
      if (letter) return letter;
    }
    return undefined;
  }

  async function stillPending(ids: readonly bigint[]): Promise<boolean> {
    return (await prisma.outboxMessage.count({ where: { id: { in: [...ids] } } })) > 0;
  }
}

function parseSeqCursor(cursor: string, key: string): bigint {
  if (!/^\d{1,19}$/.test(key)) throw new BadUserInputError(`after: "${cursor}" is not a cursor of this list`);
  return BigInt(key);
}
