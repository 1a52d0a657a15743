import { randomUUID } from 'node:crypto';
import { isAppError, NotFoundError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Broker, BrokerMessage, MessageHeaders, Reply, Responder } from '../../pubsub/broker.ts';
import { NoRespondersError, RequestTimeoutError } from '../../pubsub/errors.ts';
import { splitTenant, subjects } from '../../pubsub/subjects.ts';
import { decodeAnswerHandover, encodeHandoverResult } from './answer-handover.ts';
import { dispatchRequest, MAX_RETRIES } from './dispatch-request.ts';
import {
  encodeReply,
  errorReply,
  NETWORK_ERRORS,
  type NetworkError,
  parseNetworkRequest,
  TIMEOUT_HEADER,
} from './network-protocol.ts';
import type { PendingRequests } from './pending-requests.ts';
import { type DataSourceRef, dataSourceKey } from './provider.ts';
import type { ProviderRegistry } from './provider-registry.ts';

/** Queue group of every streamgate instance: one of them answers each request. */
export const QUEUE_GROUP = 'streamgate-datasource';

/** Extra time an instance handing a request over waits beyond the request's own budget. */
const HANDOVER_GRACE_MS = 1_000;

export interface NetworkRespondersDependencies {
  readonly broker: Broker;
  readonly log: Logger;
  readonly registry: ProviderRegistry;
  readonly pending: PendingRequests;
  /** This instance's name in request ids (pending-requests.ts). */
  readonly instanceId: string;
  readonly providerTimeoutMs: number;
  readonly maxTimeoutMs: number;
}

/** What this instance answers on the broker (docs/datasources.md, "Several instances"). */
export interface NetworkResponders {
  /**
   * Answers `datasource.*` and `tenant.*.datasource.*` (queue group), and the answers handed over
   * to this instance.
   */
  start(): Promise<void>;
  /**
   * Keeps the tenant's handover subject (`streamgate.` + the data source's subject) subscribed
   * exactly while this instance has a provider of the tenant's data source.
   */
  reconcile(dataSource: DataSourceRef): Promise<void>;
  /** Stops answering anything. */
  stop(): Promise<void>;
}

export function createNetworkResponders(deps: NetworkRespondersDependencies): NetworkResponders {
  const { broker, log, registry, pending, instanceId, providerTimeoutMs, maxTimeoutMs } = deps;
  const dispatchDeps = { registry, pending, providerTimeoutMs };
  /** By dataSourceKey. */
  const providerResponders = new Map<
    string,
    { readonly dataSource: DataSourceRef; responder: Responder | undefined; chain: Promise<void> }
  >();
  const globalResponders: Responder[] = [];
  let stopped = false;

  /** The requester's budget: its Streamgate-Timeout-Ms header, else one provider turn per try. */
  const budgetOf = (headers: MessageHeaders): number => {
    const entry = Object.entries(headers).find(
      ([name]) => name.toLowerCase() === TIMEOUT_HEADER.toLowerCase(),
    );
    const value = entry ? Number(entry[1]) : Number.NaN;
    if (Number.isInteger(value) && value > 0) return Math.min(value, maxTimeoutMs);
    return providerTimeoutMs * (MAX_RETRIES + 1);
  };

  const errorMessage = (
    code: NetworkError,
    request: Parameters<typeof errorReply>[1],
    message: string,
  ): Reply => ({
    payload: encodeReply(errorReply(code, request, message)),
  });

  /** Never throws: whatever happens, the requester gets a reply in the legacy shape. */
  const guarded =
    (
      serve: (message: BrokerMessage, dataSource: DataSourceRef) => Promise<Reply>,
      dataSourceOf: (subject: string) => DataSourceRef,
    ) =>
    async (message: BrokerMessage): Promise<Reply> => {
      try {
        return await serve(message, dataSourceOf(message.subject));
      } catch (error) {
        const correlationId = randomUUID();
        log.error({ err: error, correlationId, subject: message.subject }, 'data source request failed');
        return errorMessage(
          NETWORK_ERRORS.INTERNAL,
          undefined,
          `internal error (correlation id ${correlationId})`,
        );
      }
    };

  const serveLocally = async (message: BrokerMessage, dataSource: DataSourceRef): Promise<Reply> => {
    const parsed = parseNetworkRequest(message.payload);
    if (!parsed.ok) {
      log.warn({ subject: message.subject, reason: parsed.message }, 'malformed data source request');
      return errorMessage(NETWORK_ERRORS.BAD_REQUEST, { id: parsed.requestId }, parsed.message);
    }
    const reply = await dispatchRequest(dispatchDeps, dataSource, parsed.request, budgetOf(message.headers));
    return { payload: encodeReply(reply) };
  };

  /** `datasource.{ds}` of a tenant: served here when a provider is connected here, else handed over. */
  const serveNetworkRequest = async (message: BrokerMessage, dataSource: DataSourceRef): Promise<Reply> => {
    if (registry.count(dataSource) > 0) return serveLocally(message, dataSource);
    const parsed = parseNetworkRequest(message.payload);
    if (!parsed.ok) return serveLocally(message, dataSource); // answers BAD_REQUEST
    const budgetMs = budgetOf(message.headers);
    const { tenantId, dataSourceId } = dataSource;
    try {
      const reply = await broker.request(
        subjects.dataSourceProviders(tenantId, dataSourceId),
        message.payload,
        {
          timeoutMs: budgetMs + HANDOVER_GRACE_MS,
          headers: { [TIMEOUT_HEADER]: String(budgetMs) },
        },
      );
      return { payload: reply.payload };
    } catch (error) {
      if (error instanceof NoRespondersError)
        return errorMessage(
          NETWORK_ERRORS.NO_PROVIDER,
          parsed.request,
          `no provider of data source "${dataSourceId}" is connected`,
        );
      if (error instanceof RequestTimeoutError)
        return errorMessage(
          NETWORK_ERRORS.TIMEOUT,
          parsed.request,
          `data source "${dataSourceId}" did not answer within ${budgetMs} ms`,
        );
      throw error;
    }
  };

  /** Keeps the handover subject of the tenant's data source subscribed exactly while this instance has a provider of it. */
  const reconcile = (dataSource: DataSourceRef): Promise<void> => {
    const key = dataSourceKey(dataSource);
    let entry = providerResponders.get(key);
    if (!entry) {
      entry = { dataSource, responder: undefined, chain: Promise.resolve() };
      providerResponders.set(key, entry);
    }
    const current = entry;
    const run = current.chain.then(async () => {
      const wanted = !stopped && registry.count(dataSource) > 0;
      if (wanted && !current.responder) {
        current.responder = await broker.respond(
          subjects.dataSourceProviders(dataSource.tenantId, dataSource.dataSourceId),
          guarded(serveLocally, () => dataSource),
          { queue: QUEUE_GROUP },
        );
      } else if (!wanted && current.responder) {
        const { responder } = current;
        current.responder = undefined;
        await responder.stop();
      }
    });
    current.chain = run.catch(() => undefined);
    // Forget an idle entry, unless another change queued behind this one.
    const chained = current.chain;
    void chained.then(() => {
      if (current.chain === chained && !current.responder) providerResponders.delete(key);
    });
    return run;
  };

  /** `streamgate.datasource-answer.{instance}`: answers that reached another instance first. */
  const serveAnswerHandover = async (message: BrokerMessage): Promise<Reply> => {
    const handover = decodeAnswerHandover(message.payload);
    if (!handover)
      return { payload: encodeHandoverResult({ code: 'BAD_USER_INPUT', message: 'malformed answer' }) };
    try {
      if (!pending.answer(handover.requestId, handover.identity, handover.answer))
        throw new NotFoundError('data source request', handover.requestId);
      return { payload: encodeHandoverResult({ code: 'OK' }) };
    } catch (error) {
      if (!isAppError(error)) throw error;
      return { payload: encodeHandoverResult({ code: error.code, message: error.message }) };
    }
  };

  return {
    async start() {
      // The default tenant's legacy subjects and every other tenant's, in one queue group.
      const serve = guarded(serveNetworkRequest, requestedDataSource);
      for (const pattern of [subjects.anyDataSource, subjects.anyTenantDataSource])
        globalResponders.push(await broker.respond(pattern, serve, { queue: QUEUE_GROUP }));
      globalResponders.push(
        await broker.respond(subjects.dataSourceAnswers(instanceId), serveAnswerHandover),
      );
    },
    reconcile,
    async stop() {
      stopped = true;
      await Promise.allSettled(globalResponders.splice(0).map((responder) => responder.stop()));
      await Promise.allSettled([...providerResponders.values()].map((entry) => reconcile(entry.dataSource)));
    },
  };
}

/** The data source a network request names: `datasource.{ds}` (the default tenant's) or `tenant.{t}.datasource.{ds}`. */
function requestedDataSource(subject: string): DataSourceRef {
  const { tenant, subject: legacy } = splitTenant(subject);
  return { tenantId: tenant, dataSourceId: legacy.slice(subjects.dataSource(null, '').length) };
}
