import { messageOf } from '../../errors.ts';
import type {
  Broker,
  BrokerHealth,
  BrokerMessage,
  BrokerStats,
  MessageHeaders,
  MessageToPublish,
  PublishOptions,
  PublishOutcome,
  PublishReceipt,
  Reply,
  RequestHandler,
  RequestOptions,
  Responder,
  RespondOptions,
  RetainOptions,
  SubscribeOptions,
  Subscription,
} from '../broker.ts';
import {
  BrokerUnavailableError,
  NoRespondersError,
  NotRetainedError,
  RemoteError,
  RequestTimeoutError,
} from '../errors.ts';
import { brokerStats, closeLocalEndpoints, ResponderSet } from '../local-endpoints.ts';
import { assertRetainOptions } from '../retain-options.ts';
import { parseSequencePosition, rejectQueueWithFrom } from '../sequence-position.ts';
import { type FeedSink, SharedSubscriptions } from '../shared-subscriptions.ts';
import {
  assertPattern,
  assertSubject,
  patternCovers,
  SubjectTrie,
  subjectMatches,
} from '../subject-pattern.ts';

interface RetainedWindow {
  readonly pattern: string;
  readonly options: RetainOptions;
  readonly messages: BrokerMessage[];
}

interface RegisteredResponder {
  readonly handler: RequestHandler;
}

/**
 * The embedded broker: everything in this process. Publishing is synchronous delivery into
 * each subscriber's bounded queue, which is what makes the replay/live seam of `from` exact.
 */
export function createMemoryBroker(): Broker {
  const sinks = new SubjectTrie<FeedSink>();
  const windows: RetainedWindow[] = [];
  // The windows by pattern too, so a publish finds its windows without scanning every one (one
  // window per device makes the list as long as the fleet).
  const windowIndex = new SubjectTrie<RetainedWindow>();
  const responders = new SubjectTrie<RegisteredResponder>();
  const stops = new ResponderSet();
  let sequence = 0;
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new BrokerUnavailableError('the memory broker is closed');
  };

  // Registering a sink is synchronous, so the subscription is live the moment it is made.
  const register = (pattern: string, sink: FeedSink) => {
    sinks.add(pattern, sink);
    return { ready: Promise.resolve(), close: () => sinks.remove(pattern, sink) };
  };
  const shared = new SharedSubscriptions((pattern, _queue, sink) => register(pattern, sink));

  const replayFrom = (pattern: string, from: NonNullable<SubscribeOptions['from']>): BrokerMessage[] => {
    const now = Date.now();
    const after = 'after' in from ? parseSequencePosition(from.after) : 0;
    const seen = new Map<string, BrokerMessage>();
    for (const window of windows) {
      trimWindow(window, now);
      for (const message of window.messages) {
        if (!subjectMatches(pattern, message.subject)) continue;
        const isAfter = 'after' in from ? Number(message.position) > after : message.timestamp >= from.time;
        if (isAfter) seen.set(message.position as string, message);
      }
    }
    return [...seen.values()].sort((a, b) => Number(a.position) - Number(b.position));
  };

  /**
   * Where a subject's messages go: its subscribers and retaining windows, found once and reused
   * for the next messages to the same subject (a batch is one device's) while no subscription or
   * window came or went.
   */
  let route: { subject: string; sinks: FeedSink[]; windows: RetainedWindow[]; versions: number } | undefined;
  const routeOf = (subject: string) => {
    const versions = sinks.version + windowIndex.version;
    if (route?.subject === subject && route.versions === versions) return route;
    assertSubject(subject);
    route = { subject, sinks: [...sinks.match(subject)], windows: [...windowIndex.match(subject)], versions };
    return route;
  };

  /**
   * Takes one message. `timestamp` may be shared by the messages of one batch (they are taken at
   * one moment; nothing changes a message's Date). `handedOver` (MessageToPublish): payload and
   * headers are kept as they are, not copied; a window keeps its messages for minutes, and every
   * copy kept was work for the garbage collector on each ingest.
   */
  const publishNow = (
    subject: string,
    payload: Uint8Array,
    headers: MessageHeaders | undefined,
    timestamp: Date,
    handedOver: boolean,
  ): PublishReceipt => {
    ensureOpen();
    const targets = routeOf(subject);
    sequence += 1;
    const message: BrokerMessage = {
      subject,
      // Otherwise a copy, so that a publisher reusing its buffer cannot change what subscribers
      // read. (A Buffer's slice is a view of the same bytes, not a copy: unchanged here.)
      payload: handedOver ? payload : payload.slice(),
      headers: handedOver && headers !== undefined ? headers : { ...headers },
      timestamp,
      position: String(sequence),
    };
    const now = timestamp.getTime();
    for (const window of targets.windows) {
      window.messages.push(message);
      trimWindow(window, now);
    }
    for (const sink of targets.sinks) sink.deliver(message);
    return { position: message.position };
  };

  return {
    kind: 'memory',

    async publish(subject: string, payload: Uint8Array, options?: PublishOptions): Promise<PublishReceipt> {
      return publishNow(subject, payload, options?.headers, new Date(), false);
    },

    async publishMany(messages: readonly MessageToPublish[]): Promise<PublishOutcome[]> {
      // One loop, no promise per message: each is taken (or refused) synchronously.
      const outcomes: PublishOutcome[] = new Array(messages.length);
      const timestamp = new Date();
      for (let index = 0; index < messages.length; index++) {
        const message = messages[index] as MessageToPublish;
        try {
          outcomes[index] = {
            status: 'fulfilled',
            value: publishNow(
              message.subject,
              message.payload,
              message.headers,
              timestamp,
              message.handedOver === true,
            ),
          };
        } catch (error) {
          outcomes[index] = { status: 'rejected', reason: error };
        }
      }
      return outcomes;
    },

    subscribe(pattern: string, options?: SubscribeOptions): Subscription {
      ensureOpen();
      assertPattern(pattern);
      const from = options?.from;
      if (from === undefined) return shared.subscribe(pattern, options?.queue);
      rejectQueueWithFrom(options);
      const replay = replayFrom(pattern, from);
      // Replay, then register, in one synchronous step: no publish can fall between them (no
      // gap) and none is seen twice (no duplicate).
      return shared.subscribeAlone(pattern, (sink) => {
        if (!windows.some((window) => patternCovers(window.pattern, pattern)))
          throw new NotRetainedError(pattern);
        for (const message of replay) sink.deliver(message);
        return register(pattern, sink);
      });
    },

    async request(subject: string, payload: Uint8Array, options: RequestOptions): Promise<BrokerMessage> {
      ensureOpen();
      assertSubject(subject);
      const candidates = [...responders.match(subject)];
      const responder = candidates[Math.floor(Math.random() * candidates.length)];
      if (!responder) throw new NoRespondersError(subject);
      const request: BrokerMessage = {
        subject,
        payload: payload.slice(),
        headers: { ...options.headers },
        timestamp: new Date(),
        position: undefined,
      };
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new RequestTimeoutError(subject, options.timeoutMs)),
          options.timeoutMs,
        );
      });
      try {
        const reply: Reply = await Promise.race([
          Promise.resolve()
            .then(() => responder.handler(request))
            .catch((error: unknown) => {
              throw new RemoteError(messageOf(error), { cause: error });
            }),
          timeout,
        ]);
        return {
          subject,
          payload: reply.payload,
          headers: { ...reply.headers },
          timestamp: new Date(),
          position: undefined,
        };
      } finally {
        clearTimeout(timer);
      }
    },

    async respond(subject: string, handler: RequestHandler, _options?: RespondOptions): Promise<Responder> {
      ensureOpen();
      assertPattern(subject);
      // In one process every responder is one member of the queue group, so the group name
      // changes nothing here: one of them is picked per request.
      const registered: RegisteredResponder = { handler };
      responders.add(subject, registered);
      return stops.add(() => responders.remove(subject, registered));
    },

    async retain(pattern: string, options: RetainOptions): Promise<void> {
      ensureOpen();
      assertPattern(pattern);
      assertRetainOptions(options);
      const existing = windows.find((window) => window.pattern === pattern);
      if (existing) {
        const updated = { ...existing, options };
        windows.splice(windows.indexOf(existing), 1, updated);
        windowIndex.remove(pattern, existing);
        windowIndex.add(pattern, updated);
        return;
      }
      const window = { pattern, options, messages: [] };
      windows.push(window);
      windowIndex.add(pattern, window);
    },

    health(): BrokerHealth {
      return closed ? { status: 'closed' } : { status: 'connected' };
    },

    stats(): BrokerStats {
      return brokerStats(shared, stops);
    },

    async close(): Promise<void> {
      closed = true;
      await closeLocalEndpoints(shared, stops);
      windows.length = 0;
    },
  };
}

function trimWindow(window: RetainedWindow, now: number): void {
  const oldest = now - window.options.maxAgeMs;
  let drop = 0;
  while (
    drop < window.messages.length &&
    (window.messages[drop] as BrokerMessage).timestamp.getTime() < oldest
  )
    drop++;
  const overCount =
    window.options.maxMessages === undefined ? 0 : window.messages.length - drop - window.options.maxMessages;
  if (overCount > 0) drop += overCount;
  if (drop > 0) window.messages.splice(0, drop);
}
