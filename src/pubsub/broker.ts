import type { BrokerKind } from '../config/broker.ts';
import type { OpenPartitionedLog } from './partitioned-log.ts';
/**
 * The one Broker interface (DESIGN.md decision 2). Every capability exists on every backend:
 * memory, NATS, Kafka and Redis. Subjects are dot-separated; in patterns `*` matches one token
 * and `>` the rest (NATS semantics, emulated elsewhere).
 */

export type MessageHeaders = Readonly<Record<string, string>>;

/** One message as a subscriber sees it. */
export interface BrokerMessage {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: MessageHeaders;
  /** When the broker accepted the message. */
  readonly timestamp: Date;
  /**
   * Opaque, backend-specific position (sequence, partition:offset, stream id). Present for
   * messages of a retained window; pass it to `subscribe(…, { from: { after } })` to resume.
   */
  readonly position: string | undefined;
  /**
   * The same on every delivery of one published message, where a queue group may deliver it
   * again to another member: Kafka, whose group resumes from its last commit after a crash or
   * rebalance, and the commit can lag what a member already took. Absent where that cannot
   * happen (NATS, Redis and memory deliver a queue group's message once).
   */
  readonly redeliveryKey?: string;
}

export interface PublishOptions {
  readonly headers?: MessageHeaders;
}

export interface PublishReceipt {
  /** Broker position of the message, when the subject has a retained window. */
  readonly position: string | undefined;
}

/** One message of a `publishMany`. */
export interface MessageToPublish {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers?: MessageHeaders;
  /**
   * The publisher hands the payload and headers over with the message and never changes them
   * afterwards: a broker that keeps messages in this process (memory) may keep these very ones
   * instead of a copy. Without it a publisher may reuse its buffer once the call returned.
   */
  readonly handedOver?: boolean;
}

/** How one message of a `publishMany` fared: its receipt, or why the broker did not take it. */
export type PublishOutcome = PromiseSettledResult<PublishReceipt>;

/** Where a subscription starts: after a position a message carried, or at a point in time. */
export type ResumeFrom = { readonly after: string } | { readonly time: Date };

export interface SubscribeOptions {
  /** Members of one queue group share the messages: each goes to one member, across instances. */
  readonly queue?: string;
  /**
   * Replays what a retained window holds from this point, then continues live with no gap and
   * no duplicate at the seam. The pattern must be covered by a `retain` call (on any instance
   * sharing the broker), else the subscription ends with NotRetainedError. Not with `queue`.
   */
  readonly from?: ResumeFrom;
}

/** A live subscription: iterate it for messages; `unsubscribe` (or ending the loop) stops it. */
export interface Subscription extends AsyncIterable<BrokerMessage> {
  readonly pattern: string;
  /**
   * Resolves once the broker has the subscription: a message published after that reaches it.
   * Rejects when the broker could not set it up (the iteration then ends with the same error).
   * Waiting is optional; messages are buffered from the start either way.
   */
  readonly ready: Promise<void>;
  unsubscribe(): void;
}

export interface RequestOptions {
  readonly timeoutMs: number;
  readonly headers?: MessageHeaders;
}

export interface Reply {
  readonly payload: Uint8Array;
  readonly headers?: MessageHeaders;
}

/** Answers one request; a thrown error reaches the requester as an error reply. */
export type RequestHandler = (request: BrokerMessage) => Promise<Reply> | Reply;

export interface RespondOptions {
  readonly queue?: string;
}

/** A registered responder; `stop` unregisters it. */
export interface Responder {
  stop(): Promise<void>;
}

export interface RetainOptions {
  /** Messages older than this are dropped from the window. */
  readonly maxAgeMs: number;
  /** At most this many messages are kept. @default unlimited */
  readonly maxMessages?: number;
}

/** What a broker holds open, for /stats and for tests of the subscription sharing. */
export interface BrokerStats {
  /** Live local subscriptions (iterables handed out and not yet ended). */
  readonly subscriptions: number;
  /**
   * Subscriptions held at the broker for them: local subscribers of one pattern (and queue
   * group) share one, so this is usually smaller.
   */
  readonly brokerSubscriptions: number;
  /** Registered responders. */
  readonly responders: number;
}

/** The connection state of a broker, as /health reports it. */
export type BrokerHealth =
  | { readonly status: 'connected' }
  | { readonly status: 'reconnecting'; readonly attempt: number; readonly error?: string }
  | { readonly status: 'closed'; readonly error?: string };

export interface Broker {
  readonly kind: BrokerKind;
  /** Resolves once the broker has the message. */
  publish(subject: string, payload: Uint8Array, options?: PublishOptions): Promise<PublishReceipt>;
  /**
   * Publishes the messages in their order without waiting for each one, and resolves once every
   * one is settled, with one outcome per message in the same order (never rejects: a message the
   * broker did not take is a rejected outcome; what it took stays taken). Messages of one subject
   * reach subscribers in the given order, and a fulfilled outcome means what `publish` resolving
   * means (durable in a retained window). NATS awaits the JetStream acks of the whole batch
   * together, Kafka sends one produce request per partition, Redis pipelines them, memory loops.
   *
   * **A failure holds the subject's later messages.** Once a message of a subject is not taken for
   * now (anything but `isPermanentRefusal`), no later message of that subject in the batch is
   * published ahead of it: each fails too (as PublishHeldError, or with the same outage). So a
   * caller that keeps the rejected messages and sends them again in order (the device outbox)
   * keeps the subject's order; other subjects of the batch are not held. A message refused for
   * good holds nothing back (it will never be published; the subject goes on without it).
   * Each backend keeps this its own way (docs/pubsub.md, "Order after a failure").
   */
  publishMany(messages: readonly MessageToPublish[]): Promise<PublishOutcome[]>;
  subscribe(pattern: string, options?: SubscribeOptions): Subscription;
  /** Sends a request and waits for one reply; NoRespondersError or RequestTimeoutError otherwise. */
  request(subject: string, payload: Uint8Array, options: RequestOptions): Promise<BrokerMessage>;
  respond(subject: string, handler: RequestHandler, options?: RespondOptions): Promise<Responder>;
  /** Keeps the recent messages of subjects matching `pattern` so that `from` can replay them. */
  retain(pattern: string, options: RetainOptions): Promise<void>;
  health(): BrokerHealth;
  stats(): BrokerStats;
  /**
   * The largest message (payload and headers) the broker takes, where it tells one (NATS: the
   * server's max_payload); undefined or absent when it does not.
   */
  maxMessageBytes?(): number | undefined;
  /** Ends every subscription and responder and releases the connection. */
  close(): Promise<void>;
  /**
   * Partitions and offsets (Kafka-sourced topics), whatever the backend: createBroker attaches
   * it from the KAFKA_* settings. Absent on a broker built without them.
   */
  readonly partitionedLog?: OpenPartitionedLog;
}
