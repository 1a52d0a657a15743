import { createHash, randomUUID } from 'node:crypto';
import { messageOf } from '../../errors.ts';
import type { BrokerMessage, MessageHeaders, RequestHandler, Responder } from '../broker.ts';
import { ResponderSet } from '../local-endpoints.ts';
import { RequestCorrelation } from '../request-correlation.ts';
import type { BrokerFeed } from '../shared-subscriptions.ts';
import {
  type ConsumedRecord,
  INTERNAL_HEADERS,
  type KafkaFeedDependencies,
  openKafkaFeed,
} from './kafka-consumer-feed.ts';
import type { KafkaPublisher } from './kafka-publisher.ts';

export interface KafkaRequestReplyOptions {
  /** The topic every instance's replies go to, keyed by the instance. */
  readonly replyTopic: string;
  /** Prefix of consumer group names. */
  readonly groupPrefix: string;
}

/**
 * Request/reply over Kafka: a request is a message on the subject's topic carrying this
 * instance's id and a correlation id in headers; responders consume the topic (a queue group
 * shares one consumer group) and write the reply to the reply topic, where this instance
 * picks it up by correlation id. Kafka cannot tell that nobody listens, so a request without
 * responders ends in TIMEOUT.
 */
export class KafkaRequestReply {
  private readonly correlation = new RequestCorrelation('Kafka');
  private readonly instanceId = randomUUID();
  private replies: { feed: BrokerFeed; ready: Promise<void> } | undefined;
  private readonly responders = new ResponderSet();

  constructor(
    private readonly dependencies: KafkaFeedDependencies,
    private readonly publisher: KafkaPublisher,
    private readonly options: KafkaRequestReplyOptions,
  ) {}

  /** The responders this broker runs. */
  get responderCount(): number {
    return this.responders.size;
  }

  async request(
    subject: string,
    payload: Uint8Array,
    request: { timeoutMs: number; headers?: MessageHeaders },
  ): Promise<BrokerMessage> {
    return this.correlation.request(subject, request.timeoutMs, async (correlation) => {
      await this.listenForReplies();
      const { topic, key } = this.dependencies.mapping.addressOf(subject);
      await this.publisher.publish({
        topic,
        key,
        value: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        headers: {
          ...request.headers,
          [INTERNAL_HEADERS.subject]: subject,
          [INTERNAL_HEADERS.replyTo]: this.instanceId,
          [INTERNAL_HEADERS.correlation]: correlation,
        },
        timestamp: Date.now(),
      });
    });
  }

  async respond(pattern: string, handler: RequestHandler, queue: string | undefined): Promise<Responder> {
    const patternId = createHash('sha256').update(pattern).digest('hex').slice(0, 16);
    const groupId =
      queue === undefined
        ? `${this.options.groupPrefix}.responder.${randomUUID()}`
        : `${this.options.groupPrefix}.rpc.${queue}.${patternId}`;
    const { topics, mapping } = this.dependencies;
    const feed = openKafkaFeed(
      this.dependencies,
      {
        pattern,
        selection: mapping.topicsOf(pattern),
        groupId,
        group: queue === undefined ? 'own' : 'shared',
        start: (topic) => topics.endOffsets(topic),
        trackPositions: false,
        createTopics: true,
        endless: true,
      },
      (record) => void this.answer(record, handler),
      () => undefined,
    );
    await feed.ready;
    return this.responders.add(() => feed.close());
  }

  async close(error: Error): Promise<void> {
    this.correlation.failAll(error);
    await this.responders.stopAll();
    this.replies?.feed.close();
  }

  private listenForReplies(): Promise<void> {
    if (!this.replies) {
      const { topics } = this.dependencies;
      const feed = openKafkaFeed(
        this.dependencies,
        {
          pattern: '>',
          selection: { topics: [this.options.replyTopic] },
          groupId: `${this.options.groupPrefix}.replies.${this.instanceId}`,
          group: 'own',
          start: (topic) => topics.endOffsets(topic),
          trackPositions: false,
          createTopics: true,
          endless: true,
        },
        (record) => this.receiveReply(record),
        () => undefined,
      );
      const ready = feed.ready.catch((error: unknown) => {
        this.replies = undefined;
        throw error;
      });
      this.replies = { feed, ready };
    }
    return this.replies.ready;
  }

  private receiveReply(record: ConsumedRecord): void {
    if (record.internal.replyTo !== this.instanceId) return;
    this.correlation.settle(
      record.internal.correlation,
      record.internal.error !== undefined
        ? { error: record.internal.error }
        : { payload: record.payload, headers: record.headers, timestamp: record.timestamp },
    );
  }

  private async answer(record: ConsumedRecord, handler: RequestHandler): Promise<void> {
    const { replyTo, correlation } = record.internal;
    if (replyTo === undefined || correlation === undefined) return; // a plain message, not a request
    const request: BrokerMessage = {
      subject: record.subject,
      payload: record.payload,
      headers: record.headers,
      timestamp: record.timestamp,
      position: undefined,
    };
    let payload: Uint8Array = new Uint8Array(0);
    let headers: Record<string, string> = {};
    try {
      const reply = await handler(request);
      payload = reply.payload;
      headers = { ...reply.headers };
    } catch (error) {
      headers[INTERNAL_HEADERS.error] = messageOf(error);
    }
    headers[INTERNAL_HEADERS.replyTo] = replyTo;
    headers[INTERNAL_HEADERS.correlation] = correlation;
    headers[INTERNAL_HEADERS.subject] = record.subject;
    await this.publisher
      .publish({
        topic: this.options.replyTopic,
        key: replyTo,
        value: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        headers,
        timestamp: Date.now(),
      })
      // The requester gave up or Kafka is down: a reply nobody can receive is dropped.
      .catch(() => undefined);
  }
}
