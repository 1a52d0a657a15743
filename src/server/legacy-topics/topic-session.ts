import type { Viewer } from '../../domain/viewer.ts';
import type { Logger } from '../../log.ts';
import type { Transport } from '../ops/transport-stats.ts';
import { filtersPerTopic, translateLegacyFilter } from './legacy-filters.ts';
import { type FailedTopic, TOPIC_FAILURES } from './protocol.ts';
import type { OperationError, TopicDelivery, TopicOperations } from './topic-operations.ts';

export interface TopicSessionOptions {
  readonly viewer: Viewer;
  readonly transport: Transport;
  readonly request: Request;
  readonly operations: TopicOperations;
  readonly log: Logger;
  /** Every message of every subscribed topic, in order per topic (shared by the topic's group). */
  readonly onData: (delivery: TopicDelivery) => void;
  /**
   * A topic's stream ended with an error (the topic is no longer subscribed), or resumed past
   * records Kafka no longer holds (UNAVAILABLE naming them; the topic goes on).
   */
  readonly onStreamError: (topic: string, error: OperationError) => void;
}

export type SubscribeOutcome =
  | { readonly ok: true; readonly subscribed: readonly string[]; readonly failed: readonly FailedTopic[] }
  | { readonly ok: false; readonly problem: string };

/** One topic's subscription; `leave` is known once it runs. */
interface Entry {
  leave: () => void;
}

/**
 * The topic subscriptions of one legacy connection (WebSocket or SSE), whatever carries it:
 * one `topicMessages` operation per topic, so that each topic has its own filter and can be
 * unsubscribed alone. Socket-agnostic; the transports wire it (STYLE.md example 2).
 */
export class TopicSession {
  private readonly entries = new Map<string, Entry>();
  /** Position after the last message delivered per subscribed topic. */
  private readonly positions = new Map<string, string>();
  private closed = false;

  constructor(private readonly options: TopicSessionOptions) {}

  get topics(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Subscribes each topic with its filter (shared or keyed by topic). A topic already subscribed
   * is subscribed again with the new filter, after the last message delivered, so that the
   * switch loses nothing and repeats nothing. `resumeOf` names where other topics start (SSE
   * Last-Event-ID); by default they start from now.
   */
  async subscribe(
    topics: readonly string[],
    filters: unknown,
    resumeOf: (topic: string) => string | null = () => null,
  ): Promise<SubscribeOutcome> {
    const unique = [...new Set(topics)];
    const perTopic = filtersPerTopic(unique, filters);
    const translated = new Map<string, ReturnType<typeof translateLegacyFilter>>();
    for (const topic of unique) {
      const translation = translateLegacyFilter(perTopic.get(topic), `filters for "${topic}"`);
      if (!translation.ok) return { ok: false, problem: translation.problem };
      translated.set(topic, translation);
    }
    const subscribed: string[] = [];
    const failed: FailedTopic[] = [];
    await Promise.all(
      unique.map(async (topic) => {
        const translation = translated.get(topic);
        const entry: Entry = { leave: () => undefined };
        const run = (after: string | null) =>
          this.options.operations.subscribe(
            {
              viewer: this.options.viewer,
              topic,
              filter: translation?.ok ? translation.filter : null,
              after,
              transport: this.options.transport,
              request: this.options.request,
            },
            {
              // Registered the moment the stream runs, so that no message of it is missed.
              started: (leave) => {
                entry.leave = leave;
                if (this.closed) {
                  leave();
                  return;
                }
                const previous = this.entries.get(topic);
                this.entries.set(topic, entry);
                previous?.leave();
              },
              data: (delivery) => {
                if (this.entries.get(topic) !== entry) return;
                this.positions.set(topic, delivery.message.position);
                this.options.onData(delivery);
              },
              failed: (error) => {
                if (!this.forget(topic, entry)) return;
                this.options.onStreamError(topic, error);
              },
              // The stream completed on its own (the server is shutting down): the topic is gone.
              ended: () => this.forget(topic, entry),
            },
          );
        let start: Awaited<ReturnType<TopicOperations['subscribe']>>;
        try {
          start = await run(this.positions.get(topic) ?? resumeOf(topic));
          if (!start.ok && start.oldestPosition !== undefined) {
            // legacy.md: Last-Event-ID resumes. What Kafka deleted cannot be sent: the client is
            // told which records it lost, and the topic goes on from the oldest Kafka holds.
            this.options.onStreamError(topic, start);
            start = await run(start.oldestPosition);
          }
        } catch (error) {
          this.options.log.error({ err: error, topic }, 'legacy subscribe failed');
          failed.push({ topic, error: 'INTERNAL', message: 'the subscription could not be started' });
          return;
        }
        if (!start.ok) {
          failed.push({ topic, error: topicFailure(start), message: start.message });
          return;
        }
        if (!this.closed) subscribed.push(topic);
      }),
    );
    // Replies list topics in the order the client gave them.
    const order = (topic: string) => unique.indexOf(topic);
    subscribed.sort((a, b) => order(a) - order(b));
    failed.sort((a, b) => order(a.topic) - order(b.topic));
    return { ok: true, subscribed, failed };
  }

  /** Ends the subscriptions of these topics; topics not subscribed are ignored. */
  async unsubscribe(topics: readonly string[]): Promise<void> {
    for (const topic of topics) {
      const entry = this.entries.get(topic);
      if (!entry) continue;
      this.forget(topic, entry);
      entry.leave();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.unsubscribe(this.topics);
  }

  /** Drops `entry` if it is still the topic's subscription; false if it was replaced or gone. */
  private forget(topic: string, entry: Entry): boolean {
    if (this.entries.get(topic) !== entry) return false;
    this.entries.delete(topic);
    this.positions.delete(topic);
    return true;
  }
}

/** The legacy `failed_topics` reason for a GraphQL error of topicMessages. */
function topicFailure(error: OperationError): string {
  if (error.reason === TOPIC_FAILURES.INVALID_TOPIC_FORMAT) return TOPIC_FAILURES.INVALID_TOPIC_FORMAT;
  if (error.code === 'NOT_FOUND') return TOPIC_FAILURES.UNKNOWN_TOPIC;
  if (error.code === 'SUBSCRIPTION_DENIED') return TOPIC_FAILURES.SUBSCRIPTION_DENIED;
  return error.code;
}
