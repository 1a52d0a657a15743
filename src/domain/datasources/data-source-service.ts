import { randomBytes, randomUUID } from 'node:crypto';
import type { Config } from '../../config/config.ts';
import type { Database } from '../../db/create-database.ts';
import {
  AppError,
  BadUserInputError,
  NoProviderError,
  NotFoundError,
  TimeoutError,
  UnavailableError,
} from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Broker, BrokerMessage } from '../../pubsub/broker.ts';
import { NoRespondersError, RequestTimeoutError } from '../../pubsub/errors.ts';
import { isSubjectToken, subjects } from '../../pubsub/subjects.ts';
import { encodeAnswerHandover, parseHandoverResult } from './answer-handover.ts';
import { createDataSourceStore } from './data-source-store.ts';
import {
  encodeRequest,
  isErrorReply,
  NETWORK_ERRORS,
  type NetworkError,
  type NetworkRequest,
  parseNetworkReply,
  TIMEOUT_HEADER,
} from './network-protocol.ts';
import { createNetworkResponders } from './network-responders.ts';
import { createPendingRequests, type ProviderAnswer } from './pending-requests.ts';
import {
  type DataSourceRequest,
  dataSourceKey,
  dataSourceOf,
  type Provider,
  type ProviderIdentity,
} from './provider.ts';
import { createProviderRegistry } from './provider-registry.ts';
import { createProviderStream } from './provider-stream.ts';

/** A data source as the API shows it. */
export interface DataSourceInfo {
  readonly id: string;
  /** Providers connected to this instance (not cluster-wide; docs/datasources.md). */
  readonly connectedProviders: number;
}

/** @default 5000 ms, as the contract's `timeoutMs: Int = 5000` says; also when a caller sends null. */
export const DEFAULT_QUERY_TIMEOUT_MS = 5_000;

/** A provider's answer as it sends it: without an answerId, the answer gets a new UUID. */
export type AnswerInput = Omit<ProviderAnswer, 'answerId'> & { readonly answerId: string | null };

/** Data sources: the requesters' side, the providers' side, and the network in between. */
export interface DataSourceService {
  /** The data sources of a tenant (data sources are scoped per tenant, like states). */
  list(tenantId: string | null): Promise<DataSourceInfo[]>;
  /** Sends a request through the broker and returns the provider's answer (queryDataSource). */
  query(
    requester: QueryRequester,
    dataSourceId: string,
    query: unknown,
    timeoutMs: number | null | undefined,
  ): Promise<unknown>;
  /**
   * Makes the caller a provider of its tenant's data source until the returned stream ends. Never
   * refused for the id: another tenant's data source of that id is another data source.
   */
  provide(
    identity: ProviderIdentity,
    dataSourceId: string,
  ): Promise<AsyncIterableIterator<DataSourceRequest>>;
  /** Delivers a provider's answer to the request it was sent (answerDataSource). */
  answer(identity: ProviderIdentity, requestId: string, answer: AnswerInput): Promise<void>;
  /** Starts answering `datasource.*` on the broker. */
  start(): Promise<void>;
  /** Stops answering; pending requests end. */
  stop(): Promise<void>;
}

export interface QueryRequester {
  readonly tenantId: string | null;
  /** Sent as the request's `processId`, so a provider's log can be matched with ours. */
  readonly correlationId: string;
}

interface ProviderState {
  /** Counted in connectedProviders. */
  ready: boolean;
  /** Its stream has ended. */
  released: boolean;
}

/** How long an answer handed to the instance that sent the request may take. */
const ANSWER_HANDOVER_TIMEOUT_MS = 5_000;
/** Longest data source id: it is a broker subject token and a primary key. */
const MAX_ID_LENGTH = 200;

export interface DataSourceServiceDependencies {
  readonly config: Pick<Config, 'dataSources'>;
  readonly db: Database;
  readonly broker: Broker;
  readonly log: Logger;
}

export function createDataSourceService(deps: DataSourceServiceDependencies): DataSourceService {
  const { broker, log } = deps;
  const { providerTimeoutMs, maxTimeoutMs } = deps.config.dataSources;
  /** Names this instance inside request ids, so answers find their way back (pending-requests.ts). */
  const instanceId = randomBytes(4).toString('hex');
  const store = createDataSourceStore(deps.db.prisma);
  const registry = createProviderRegistry();
  const pending = createPendingRequests(instanceId);
  const network = createNetworkResponders({
    broker,
    log,
    registry,
    pending,
    instanceId,
    providerTimeoutMs,
    maxTimeoutMs,
  });
  /**
   * Providers counted in connectedProviders: those whose data source is reachable from other
   * instances. By dataSourceKey.
   */
  const readyCounts = new Map<string, number>();
  let stopped = false;

  const release = (provider: Provider, state: ProviderState) => {
    state.released = true;
    registry.remove(provider);
    const dataSource = dataSourceOf(provider);
    const key = dataSourceKey(dataSource);
    if (state.ready) {
      state.ready = false;
      const count = (readyCounts.get(key) ?? 1) - 1;
      if (count > 0) readyCounts.set(key, count);
      else readyCounts.delete(key);
    }
    // After leaving the registry, so that the retry of its requests picks another provider.
    pending.providerGone(provider);
    network
      .reconcile(dataSource)
      .catch((error: unknown) =>
        log.error(
          { err: error, dataSourceId: provider.dataSourceId },
          'could not stop a data source responder',
        ),
      );
  };

  return {
    async list(tenantId) {
      const records = await store.listForTenant(tenantId);
      return records.map((id) => ({
        id,
        connectedProviders: readyCounts.get(dataSourceKey({ tenantId, dataSourceId: id })) ?? 0,
      }));
    },

    async query(requester, dataSourceId, query, requestedTimeoutMs) {
      assertDataSourceId(dataSourceId);
      const timeoutMs = requestedTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > maxTimeoutMs)
        throw new BadUserInputError(
          `timeoutMs must be a whole number of milliseconds from 1 to ${maxTimeoutMs} (DATASOURCE_MAX_TIMEOUT), got ${timeoutMs}`,
        );
      const request: NetworkRequest = {
        id: randomUUID(),
        processId: requester.correlationId,
        operation: operationOf(query),
        payload: query,
      };
      let message: BrokerMessage;
      try {
        // The requester's tenant's data source, on its tenant's subject: another tenant's data
        // source of this id is never reached, and answers as one nobody provides.
        const subject = subjects.dataSource(requester.tenantId, dataSourceId);
        message = await broker.request(subject, encodeRequest(request), {
          timeoutMs,
          headers: { [TIMEOUT_HEADER]: String(timeoutMs) },
        });
      } catch (error) {
        if (error instanceof NoRespondersError) throw noProvider(dataSourceId, error);
        if (error instanceof RequestTimeoutError)
          throw new TimeoutError(`data source "${dataSourceId}" did not answer within ${timeoutMs} ms`, {
            cause: error,
          });
        throw error;
      }
      const reply = parseNetworkReply(message.payload);
      if (!reply)
        throw new UnavailableError(`data source "${dataSourceId}" sent a reply that streamgate cannot read`);
      if (isErrorReply(reply)) throw errorOfReply(dataSourceId, timeoutMs, reply.error, reply.message);
      if (reply.error !== undefined)
        throw new UnavailableError(`data source "${dataSourceId}" answered with an error: ${reply.error}`, {
          details: { providerError: reply.error },
        });
      return reply.payload;
    },

    async provide(identity, dataSourceId) {
      assertDataSourceId(dataSourceId);
      if (stopped) throw new UnavailableError('the server is shutting down');
      await store.record({ tenantId: identity.tenantId, dataSourceId });
      const state: ProviderState = { ready: false, released: false };
      const stream = createProviderStream(() => release(provider, state));
      const provider: Provider = {
        id: randomUUID(),
        dataSourceId,
        identity,
        inFlight: 0,
        deliver: (request) => stream.push(request),
      };
      registry.add(provider);
      const dataSource = dataSourceOf(provider);
      try {
        await network.reconcile(dataSource);
      } catch (error) {
        await stream.iterable.return?.();
        throw new UnavailableError(`could not register the provider of data source "${dataSourceId}"`, {
          cause: error,
        });
      }
      // Counted once other instances can hand requests over, unless it already ended meanwhile.
      if (!state.released) {
        state.ready = true;
        const key = dataSourceKey(dataSource);
        readyCounts.set(key, (readyCounts.get(key) ?? 0) + 1);
      }
      return stream.iterable;
    },

    async answer(identity, requestId, input) {
      const answer: ProviderAnswer = { ...input, answerId: input.answerId ?? randomUUID() };
      if (pending.answer(requestId, identity, answer)) return;
      const owner = requestId.slice(0, 8);
      if (owner === instanceId || !/^[0-9a-f]{8}-/.test(requestId.slice(0, 9)))
        throw new NotFoundError('data source request', requestId);
      let message: BrokerMessage;
      try {
        message = await broker.request(
          subjects.dataSourceAnswers(owner),
          encodeAnswerHandover({ requestId, identity, answer }),
          { timeoutMs: ANSWER_HANDOVER_TIMEOUT_MS },
        );
      } catch (error) {
        // The instance that sent the request is gone, and with it the request.
        if (error instanceof NoRespondersError) throw new NotFoundError('data source request', requestId);
        throw error;
      }
      const result = parseHandoverResult(message.payload);
      if (result.code === 'OK') return;
      throw new AppError(
        result.code,
        result.message ?? `data source request "${requestId}" was not accepted`,
      );
    },

    start: () => network.start(),

    async stop() {
      stopped = true;
      await network.stop();
      pending.clear();
    },
  };
}

function assertDataSourceId(id: string): void {
  if (!isSubjectToken(id) || id.length > MAX_ID_LENGTH)
    throw new BadUserInputError(
      `data source id "${id.slice(0, MAX_ID_LENGTH)}" must be 1 to ${MAX_ID_LENGTH} characters with no dots, wildcards (* >) or white space: it is a broker subject token`,
    );
}

/** legacy.md A: an `operation` field in the query, if any, becomes the request's operation. */
function operationOf(query: unknown): string | null {
  if (typeof query !== 'object' || query === null || Array.isArray(query)) return null;
  const { operation } = query as Record<string, unknown>;
  return typeof operation === 'string' ? operation : null;
}

function errorOfReply(
  dataSourceId: string,
  timeoutMs: number,
  code: NetworkError,
  message?: string,
): AppError {
  switch (code) {
    case NETWORK_ERRORS.NO_PROVIDER:
      return new NoProviderError(message ?? `no provider of data source "${dataSourceId}" is connected`);
    case NETWORK_ERRORS.TIMEOUT:
      return new TimeoutError(
        message ?? `data source "${dataSourceId}" did not answer within ${timeoutMs} ms`,
      );
    case NETWORK_ERRORS.BAD_REQUEST:
      return new BadUserInputError(message ?? 'the data source request was malformed');
    case NETWORK_ERRORS.INTERNAL:
      return new UnavailableError(message ?? `the instance serving data source "${dataSourceId}" failed`);
  }
}

function noProvider(dataSourceId: string, cause?: unknown): NoProviderError {
  return new NoProviderError(
    `no provider of data source "${dataSourceId}" is connected`,
    cause === undefined ? undefined : { cause },
  );
}
