import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import { decodePosition, encodePosition, type TopicCursor } from '../../domain/topics/topic-position.ts';
import type { Viewer } from '../../domain/viewer.ts';
import { groupRunContext } from '../delivery/group-context.ts';
import { sharingKey } from '../delivery/sharing-key.ts';
import type {
  GroupEvent,
  GroupMember,
  Membership,
  SubscriptionGroups,
} from '../delivery/subscription-groups.ts';
import type { MessageFilter } from '../gql/graphql.ts';
import type { InitialContext } from '../graphql-context.ts';
import { isResultStream, type OperationRunner, type RunContext } from '../operation-runner.ts';
import type { OpenSubscriptions } from '../ops/open-subscriptions.ts';
import type { Transport, TransportStats } from '../ops/transport-stats.ts';
import { MANAGED_LIFECYCLE } from '../subscription-lifecycle.ts';
import { dataOf, typedRequest } from '../typed-operation.ts';
import { LegacyTopicMessagesDocument, LegacyTopicsDocument } from './documents.ts';
import { dataFrame } from './protocol.ts';

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
  /** A resume that asked for records Kafka deleted: the same position at the oldest it holds. */
  readonly oldestPosition?: string;
}

/**
 * One message of a topic subscription group, translated once for every member: the message, and
 * its legacy frames serialized and encoded on first use (every member sends these bytes).
 */
export class TopicDelivery {
  private frame: Buffer | undefined;
  private sseBody: Buffer | undefined;
  private sseAlone: Buffer | null | undefined;
  private resume: { cursor: TopicCursor | undefined; alone: string | undefined } | undefined;

  constructor(readonly message: LegacyTopicMessage) {}

  /** `{"type":"data",…}` of legacy.md D, serialized and encoded once per event. */
  get wsFrame(): Buffer {
    this.frame ??= Buffer.from(JSON.stringify(dataFrame(this.message)));
    return this.frame;
  }

  /**
   * The SSE `data` event without its `id:` line (its JSON is the WebSocket frame without `type`),
   * for a stream whose position names more topics: it writes its own `id:` line before these bytes.
   */
  get sseEvent(): Buffer {
    if (this.sseBody === undefined) {
      const { type: _type, ...body } = dataFrame(this.message);
      this.sseBody = Buffer.from(`event: data\ndata: ${JSON.stringify(body)}\n\n`);
    }
    return this.sseBody;
  }

  /**
   * The whole SSE `data` event, `id:` line included, of a stream whose only topic is this
   * message's (its id is then `alonePosition`); undefined when the position names no cursor.
   */
  get sseAloneFrame(): Buffer | undefined {
    if (this.sseAlone === undefined) {
      const alone = this.alonePosition;
      this.sseAlone =
        alone === undefined ? null : Buffer.concat([Buffer.from(`id: ${alone}\n`), this.sseEvent]);
    }
    return this.sseAlone ?? undefined;
  }

  /** Where this message leaves its topic (read from its position once per event). */
  get cursor(): TopicCursor | undefined {
    return this.resumeOf().cursor;
  }

  /**
   * The resume position of a stream whose only topic is this message's, after this message
   * (what `encodePosition` gives for it), encoded once per event.
   */
  get alonePosition(): string | undefined {
    return this.resumeOf().alone;
  }

  private resumeOf(): { cursor: TopicCursor | undefined; alone: string | undefined } {
    if (!this.resume) {
      const { topic, position } = this.message;
      const cursor = decodePosition(position).get(topic);
      this.resume = { cursor, alone: cursor ? encodePosition(new Map([[topic, cursor]])) : undefined };
    }
    return this.resume;
  }
}

/** What a topic subscription tells its connection; each call reaches this subscription alone. */
export interface TopicSink {
  /** The stream runs: `leave` ends it (unsubscribe, a new filter, the connection closing). */
  started(leave: () => void): void;
  data(delivery: TopicDelivery): void;
  /** The stream ended with an error; nothing follows. */
  failed(error: OperationError): void;
  /** The stream ended (the server is shutting down); nothing follows. */
  ended(): void;
}

export type OperationStart = { readonly ok: true } | ({ readonly ok: false } & OperationError);

export interface TopicSubscriptionRequest {
  readonly viewer: Viewer;
  readonly topic: string;
  readonly filter: MessageFilter | null;
  readonly after: string | null;
  readonly transport: Transport;
  /** The HTTP request that opened the legacy connection. */
  readonly request: Request;
}

/**
 * What the legacy adapters run: GraphQL operations on the schema, through the execution seam
 * with a context carrying the verified viewer (DESIGN.md decision 1). Auth, entitlements,
 * filters, limits and metrics therefore hold for legacy clients as for every other.
 */
export interface TopicOperations {
  /**
   * Subscribes one topic as a member of its subscription group (DESIGN.md decision 4): resolves
   * once the stream runs (after `sink.started`) or is refused (NOT_FOUND, SUBSCRIPTION_DENIED…).
   */
  subscribe(request: TopicSubscriptionRequest, sink: TopicSink): Promise<OperationStart>;
  /** Names of the topics the viewer may subscribe to (Query.topics). */
  availableTopics(viewer: Viewer, request: Request): Promise<string[]>;
}

export interface TopicOperationsOptions {
  readonly runner: OperationRunner;
  readonly groups: SubscriptionGroups;
  readonly stats: TransportStats;
  /** The open_subscriptions gauge. */
  readonly openSubscriptions: OpenSubscriptions;
}

/** The adapters' operations run through the one execution seam, subscriptions in groups. */
export function createTopicOperations(options: TopicOperationsOptions): TopicOperations {
  const { runner, groups } = options;
  // The legacy adapter verified the token itself (it must answer MISSING_TOKEN/INVALID_TOKEN in
  // its own format before any operation), so the context carries that viewer.
  const initialFor = (viewer: Viewer, request: Request): InitialContext => ({
    request: withoutCredentials(request),
    extra: { viewer },
  });

  return {
    subscribe({ viewer, topic, filter, after, transport }, sink) {
      // Start, end, expiry and metrics are the member's (managed lifecycle): no per-event wrapper.
      const initial: RunContext = { extra: { viewer }, ...MANAGED_LIFECYCLE };
      const parsed = runner.parse(
        typedRequest(LegacyTopicMessagesDocument, { topics: [topic], filter, after }),
        initial,
      );
      if ('errors' in parsed) return Promise.resolve({ ok: false, ...firstError(parsed) });
      const key = sharingKey(parsed, LegacyTopicMessagesDocument, viewer);
      return new Promise<OperationStart>((resolve) => {
        const member = new TopicMember(transport, sink, options, resolve);
        member.joined(
          groups.join(
            key,
            (audience) =>
              runner.run(parsed, key === null ? initial : groupRunContext(audience, viewer, undefined)),
            member,
          ),
        );
      });
    },

    async availableTopics(viewer, request) {
      const result = await runner.perform(
        typedRequest(LegacyTopicsDocument, {}),
        initialFor(viewer, request),
      );
      if (isResultStream(result)) throw new Error('Query.topics answered a stream');
      const topics = dataOf(LegacyTopicsDocument, result)?.topics;
      if (!topics) {
        const error = firstError(result);
        throw new Error(`${error.code}: ${error.message}`);
      }
      return topics.map((topic) => topic.name);
    },
  };
}

/** A topic's group event, translated once for the whole group. */
type TopicEvent = TopicDelivery | { readonly error: OperationError };

const TOPIC_EVENT = Symbol('legacy topic event');

function topicEvent(result: ExecutionResult): TopicEvent {
  const message = dataOf(LegacyTopicMessagesDocument, result)?.topicMessages;
  return message && !result.errors ? new TopicDelivery(message) : { error: firstError(result) };
}

/** One legacy topic subscription in its group: the start decided once, then the sink's events. */
class TopicMember implements GroupMember {
  private state: 'starting' | 'live' | 'done' = 'starting';
  private membership: Membership | undefined;
  private closeGauge: (() => void) | undefined;

  constructor(
    readonly transport: Transport,
    private readonly sink: TopicSink,
    private readonly options: TopicOperationsOptions,
    private readonly decided: (start: OperationStart) => void,
  ) {}

  /** `started` may come inside `groups.join`, before its membership is known. */
  joined(membership: Membership): void {
    this.membership = membership;
    if (this.state === 'done') membership.leave();
  }

  started(): void {
    if (this.state !== 'starting') return;
    this.state = 'live';
    this.closeGauge = this.options.openSubscriptions.opened(this.transport, 'topicMessages');
    this.options.stats.subscriptionStarted(this.transport);
    this.sink.started(() => this.leave());
    this.decided({ ok: true });
  }

  next(event: GroupEvent): void {
    const translated = event.translated(TOPIC_EVENT, topicEvent);
    if (this.state === 'starting') {
      // A result before the stream ran: the subscribe was refused.
      this.finish();
      this.decided({ ok: false, ...('error' in translated ? translated.error : firstError(event.result)) });
      return;
    }
    if (this.state !== 'live') return;
    if ('error' in translated) {
      this.leave();
      this.sink.failed(translated.error);
      return;
    }
    this.sink.data(translated);
  }

  error(errors: readonly GraphQLFormattedError[]): void {
    const error = firstError({ errors });
    const wasLive = this.state === 'live';
    const starting = this.state === 'starting';
    this.finish();
    if (starting) this.decided({ ok: false, ...error });
    else if (wasLive) this.sink.failed(error);
  }

  complete(): void {
    const state = this.state;
    this.finish();
    if (state === 'starting')
      this.decided({ ok: false, code: 'INTERNAL', message: 'the stream ended at once', reason: undefined });
    else if (state === 'live') this.sink.ended();
  }

  private leave(): void {
    this.finish();
    this.membership?.leave();
  }

  private finish(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.closeGauge?.();
  }
}

/**
 * The connection's request without its token: the adapter has verified it already, and a token
 * that expires later must not fail the context of a later operation (the viewer's `expiresAt`
 * ends the connection at expiry instead).
 */
function withoutCredentials(request: Request): Request {
  const url = new URL(request.url);
  url.searchParams.delete('token');
  const headers = new Headers(request.headers);
  headers.delete('authorization');
  return new Request(url, { headers });
}

function firstError(result: {
  readonly errors?: readonly (GraphQLFormattedError | { message: string; extensions?: unknown })[];
}): OperationError {
  const error = result.errors?.[0];
  const extensions = (error?.extensions ?? {}) as Record<string, unknown>;
  const { code, reason, oldestPosition } = extensions;
  return {
    code: typeof code === 'string' ? code : 'INTERNAL',
    message: error?.message ?? 'the operation returned no data',
    reason: typeof reason === 'string' ? reason : undefined,
    ...(typeof oldestPosition === 'string' ? { oldestPosition } : {}),
  };
}
