import type {
  Broker,
  BrokerHealth,
  BrokerMessage,
  PublishOptions,
  PublishReceipt,
  Reply,
  RequestHandler,
  RequestOptions,
  Responder,
  RespondOptions,
  RetainOptions,
  SubscribeOptions,
  Subscription,
} from './broker.ts';
import { BrokerUnavailableError, NoRespondersError, RemoteError, RequestTimeoutError } from './errors.ts';
import { assertPattern, assertSubject, SubjectTrie, subjectMatches } from './subject-pattern.ts';
import { createSubscriptionQueue, type SubscriptionQueue } from './subscription-queue.ts';

/** One queue group on one pattern: each message goes to the next member in turn. */
interface QueueGroup {
  readonly members: SubscriptionQueue[];
  next: number;
}

type Target = SubscriptionQueue | QueueGroup;

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
  const targets = new SubjectTrie<Target>();
  const queueGroups = new Map<string, QueueGroup>();
  const windows: RetainedWindow[] = [];
  const responders = new SubjectTrie<RegisteredResponder>();
  const openQueues = new Set<SubscriptionQueue>();
  let sequence = 0;
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new BrokerUnavailableError('the memory broker is closed');
  };

  const deliver = (message: BrokerMessage) => {
    for (const target of targets.match(message.subject)) {
      if ('members' in target) {
        if (target.members.length === 0) continue;
        const member = target.members[target.next % target.members.length] as SubscriptionQueue;
        target.next = (target.next + 1) % target.members.length;
        member.push(message);
      } else {
        target.push(message);
      }
    }
  };

  const retainMessage = (message: BrokerMessage) => {
    for (const window of windows) {
      if (!subjectMatches(window.pattern, message.subject)) continue;
      window.messages.push(message);
      trimWindow(window, message.timestamp.getTime());
    }
  };

  const replayFrom = (pattern: string, from: NonNullable<SubscribeOptions['from']>): BrokerMessage[] => {
    const now = Date.now();
    const seen = new Map<string, BrokerMessage>();
    for (const window of windows) {
      trimWindow(window, now);
      for (const message of window.messages) {
        if (!subjectMatches(pattern, message.subject)) continue;
        const isAfter =
          'after' in from ? Number(message.position) > Number(from.after) : message.timestamp >= from.time;
        if (isAfter) seen.set(message.position as string, message);
      }
    }
    return [...seen.values()].sort((a, b) => Number(a.position) - Number(b.position));
  };

  return {
    kind: 'memory',

    async publish(subject: string, payload: Uint8Array, options?: PublishOptions): Promise<PublishReceipt> {
      ensureOpen();
      assertSubject(subject);
      sequence += 1;
      const message: BrokerMessage = {
        subject,
        // Copy so that a publisher reusing its buffer cannot change what subscribers read.
        payload: payload.slice(),
        headers: { ...options?.headers },
        timestamp: new Date(),
        position: String(sequence),
      };
      retainMessage(message);
      deliver(message);
      return { position: message.position };
    },

    subscribe(pattern: string, options?: SubscribeOptions): Subscription {
      ensureOpen();
      assertPattern(pattern);
      const queueName = options?.queue;
      const queue = createSubscriptionQueue(pattern, () => {
        openQueues.delete(queue);
        if (queueName === undefined) {
          targets.remove(pattern, queue);
          return;
        }
        const key = `${queueName}\u0000${pattern}`;
        const group = queueGroups.get(key);
        if (!group) return;
        group.members.splice(group.members.indexOf(queue), 1);
        if (group.members.length === 0) {
          queueGroups.delete(key);
          targets.remove(pattern, group);
        }
      });
      openQueues.add(queue);
      // Replay first, then register: both happen in this one synchronous step, so no publish
      // can fall between them (no gap) and none is seen twice (no duplicate).
      if (options?.from) for (const message of replayFrom(pattern, options.from)) queue.push(message);
      if (queueName === undefined) {
        targets.add(pattern, queue);
      } else {
        const key = `${queueName}\u0000${pattern}`;
        let group = queueGroups.get(key);
        if (!group) {
          group = { members: [], next: 0 };
          queueGroups.set(key, group);
          targets.add(pattern, group);
        }
        group.members.push(queue);
      }
      return queue.subscription;
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
              throw new RemoteError(error instanceof Error ? error.message : String(error), { cause: error });
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
      return {
        stop: async () => responders.remove(subject, registered),
      };
    },

    async retain(pattern: string, options: RetainOptions): Promise<void> {
      ensureOpen();
      assertPattern(pattern);
      const existing = windows.find((window) => window.pattern === pattern);
      if (existing) {
        windows.splice(windows.indexOf(existing), 1, { ...existing, options });
        return;
      }
      windows.push({ pattern, options, messages: [] });
    },

    health(): BrokerHealth {
      return closed ? { status: 'closed' } : { status: 'connected' };
    },

    async close(): Promise<void> {
      closed = true;
      for (const queue of [...openQueues]) queue.end();
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
