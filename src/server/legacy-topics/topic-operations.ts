import { type DocumentNode, type ExecutionResult, parse } from 'graphql';
import type { MessageFilterInput } from '../../domain/topics/message-filter.ts';
import type { Viewer } from '../../domain/viewer.ts';
import type { InitialContext } from '../graphql-context.ts';
import { isResultStream, type OperationRunner } from '../operation-runner.ts';
import type { LegacyTransportContext } from '../ops/subscription-metrics-plugin.ts';
import type { Transport } from '../ops/transport-stats.ts';

/** The fields of TopicMessage a legacy frame needs. */
export interface LegacyTopicMessage {
  readonly topic: string;
  readonly key: string | null;
  readonly data: unknown;
  readonly timestamp: string;
  readonly partition: number | null;
  readonly offset: string | null;
  readonly position: string;
}

/** A GraphQL error as the legacy adapters read it. */
export interface OperationError {
  readonly code: string;
  readonly message: string;
  readonly reason: string | undefined;
}

export type TopicStream = AsyncIterator<{ message: LegacyTopicMessage } | { error: OperationError }>;

export type OperationStart =
  | { readonly ok: true; readonly stream: TopicStream }
  | ({ readonly ok: false } & OperationError);

export interface TopicSubscriptionRequest {
  readonly viewer: Viewer;
  readonly topic: string;
  readonly filter: MessageFilterInput | null;
  readonly after: string | null;
  readonly transport: Transport;
  /** The HTTP request that opened the legacy connection. */
  readonly request: Request;
}

/**
 * What the legacy adapters run: GraphQL operations on the schema, through yoga's envelop with a
 * context carrying the verified viewer (DESIGN.md decision 1). Auth, entitlements, filters,
 * limits and metrics therefore hold for legacy clients as for every other.
 */
export interface TopicOperations {
  subscribe(request: TopicSubscriptionRequest): Promise<OperationStart>;
  /** Names of the topics the viewer may subscribe to (Query.topics). */
  availableTopics(viewer: Viewer, transport: Transport, request: Request): Promise<string[]>;
}

const TOPIC_MESSAGES: DocumentNode = parse(`
  subscription LegacyTopicMessages($topics: [String!]!, $filter: MessageFilter, $after: String) {
    topicMessages(topics: $topics, filter: $filter, after: $after) {
      topic key data timestamp partition offset position
    }
  }
`);

const TOPICS: DocumentNode = parse('query LegacyTopics { topics { name } }');

/** The adapters' operations run through the one execution seam. */
export function createTopicOperations(runner: OperationRunner): TopicOperations {
  // The legacy adapter verified the token itself (it must answer MISSING_TOKEN/INVALID_TOKEN in
  // its own format before any operation), so the context carries that viewer.
  const initialFor = (viewer: Viewer, transport: Transport, request: Request): InitialContext =>
    ({
      request: withoutCredentials(request),
      extra: { viewer },
      legacyTransport: transport,
    }) as LegacyTransportContext & InitialContext;

  return {
    async subscribe({ viewer, topic, filter, after, transport, request }) {
      const result = await runner.perform(
        { query: TOPIC_MESSAGES, variables: { topics: [topic], filter, after } },
        initialFor(viewer, transport, request),
      );
      if (!isResultStream(result)) return { ok: false, ...firstError(result) };
      const source = result;
      const stream: TopicStream = {
        async next() {
          const next = await source.next();
          if (next.done) return { done: true, value: undefined };
          const message = (next.value.data as { topicMessages?: LegacyTopicMessage } | null | undefined)
            ?.topicMessages;
          return message && !next.value.errors
            ? { done: false, value: { message } }
            : { done: false, value: { error: firstError(next.value) } };
        },
        async return() {
          await source.return?.();
          return { done: true, value: undefined };
        },
      };
      return { ok: true, stream };
    },

    async availableTopics(viewer, transport, request) {
      const result = await runner.perform({ query: TOPICS }, initialFor(viewer, transport, request));
      if (isResultStream(result)) throw new Error('Query.topics answered a stream');
      const topics = (result.data as { topics?: Array<{ name: string }> } | null | undefined)?.topics;
      if (!topics) {
        const error = firstError(result);
        throw new Error(`${error.code}: ${error.message}`);
      }
      return topics.map((topic) => topic.name);
    },
  };
}

/**
 * The connection's request without its token: the adapter has verified it already, and a token
 * that expires later must not fail the context of a later operation (the viewer's `expiresAt`
 * ends the subscriptions at expiry instead).
 */
function withoutCredentials(request: Request): Request {
  const url = new URL(request.url);
  url.searchParams.delete('token');
  const headers = new Headers(request.headers);
  headers.delete('authorization');
  return new Request(url, { headers });
}

function firstError(result: ExecutionResult): OperationError {
  const error = result.errors?.[0];
  const code = error?.extensions?.code;
  const reason = error?.extensions?.reason;
  return {
    code: typeof code === 'string' ? code : 'INTERNAL',
    message: error?.message ?? 'the operation returned no data',
    reason: typeof reason === 'string' ? reason : undefined,
  };
}
