import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JsMsg,
  type OrderedConsumerOptions,
} from '@nats-io/jetstream';
import { isAppError, messageOf } from '../../errors.ts';
import { reconnectDelayMs } from '../connection-health.ts';
import { BrokerUnavailableError, NotRetainedError } from '../errors.ts';
import type { BrokerFeed, FeedSink } from '../shared-subscriptions.ts';
import { fromStreamMessage } from './nats-messages.ts';

/** Where a stream feed starts: at a stream sequence, or at the first message at or after a time. */
export type StreamStart = { readonly seq: number } | { readonly time: Date };

/** What a stream feed needs of the NATS broker that opens it. */
export interface StreamFeedContext {
  readonly js: JetStreamClient;
  /** The stream whose subjects cover the pattern, if any. */
  findStream(pattern: string): Promise<string | undefined>;
  isConnected(): boolean;
  isClosed(): boolean;
  /** Calls `listener` whenever the connection is back after a loss; returns the unsubscribe. */
  onReconnect(listener: () => void): () => void;
  /** How long the consumer may fail to come back while the connection is up before the feed fails. */
  readonly resumeTimeoutMs: number;
  /** Longest wait between two attempts to recreate the consumer. */
  readonly retryMaxWaitMs: number;
}

/** A feed whose consumer is deleted at the server once `finished` resolves (after close or failure). */
export interface StreamFeed extends BrokerFeed {
  readonly finished: Promise<void>;
}

/**
 * Pull requests expire after this, and the server sends idle heartbeats at half of it: two
 * missed heartbeats (15 s) tell a consumer that vanished without the connection dropping.
 */
const PULL_EXPIRES_MS = 15_000;

/** Consumer notifications after which the current consumer is not trusted to deliver again. */
const CONSUMER_TROUBLE = new Set([
  'heartbeats_missed',
  'consumer_not_found',
  'consumer_deleted',
  'stream_not_found',
  'no_responders',
  'reset',
]);

interface Generation {
  readonly consumer: Consumer;
  readonly messages: ConsumerMessages;
}

/**
 * A feed from an ordered JetStream consumer that survives the server: it starts at a sequence
 * or a time, and after the replay goes on with new messages (no seam to stitch). It keeps the
 * stream sequence it delivered last, and whenever the consumer may be gone — the connection
 * came back (a server killed with SIGKILL forgets its ephemeral consumers), heartbeats
 * stopped, the server says so — it drops that consumer and creates a new one right after that
 * sequence: nothing the stream holds is missed, nothing is delivered twice.
 *
 * The client's ordered consumer resets itself too, but after a server restart it can stall
 * for good (it re-pulls with the batch of the lost pull requests still counted, i.e. nothing),
 * so the feed does not rely on it. If the consumer cannot be made again within
 * `resumeTimeoutMs` of the connection being up, the feed fails with BrokerUnavailableError:
 * its subscribers end with UNAVAILABLE instead of waiting forever.
 */
export function openStreamFeed(
  context: StreamFeedContext,
  pattern: string,
  start: (stream: string) => Promise<StreamStart>,
  sink: FeedSink,
): StreamFeed {
  let stopped = false;
  let stream = '';
  let next: StreamStart | undefined;
  let current: Generation | undefined;
  let resuming = false;
  let resumeAgain = false;
  let troubleStreak = 0;
  let settle: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    settle = resolve;
  });

  const release = (generation: Generation | undefined): Promise<void> => {
    if (!generation) return Promise.resolve();
    return Promise.allSettled([generation.messages.close(), generation.consumer.delete()]).then(
      () => undefined,
    );
  };

  const stop = (error?: Error) => {
    if (stopped) return;
    stopped = true;
    stopListening();
    const last = current;
    current = undefined;
    void release(last).finally(settle);
    if (error) sink.fail(error);
  };

  const deliver = (message: JsMsg) => {
    if (next && 'seq' in next && message.seq < next.seq) return; // an overlap after a restart
    const converted = fromStreamMessage(message);
    // Until the first message, a consumer started at a time may be recreated by the client at
    // the stream's start; what lies before the time is not asked for.
    if (next && 'time' in next && converted.timestamp < next.time) return;
    next = { seq: message.seq + 1 };
    troubleStreak = 0;
    sink.deliver(converted);
  };

  const follow = (generation: Generation) => {
    void (async () => {
      try {
        for await (const message of generation.messages) {
          if (current !== generation) return;
          deliver(message);
        }
      } catch {
        // Handled below like an end: the next consumer picks up where this one stopped.
      }
      if (current === generation) resume();
    })();
    void (async () => {
      for await (const status of generation.messages.status()) {
        if (current !== generation) return;
        if (CONSUMER_TROUBLE.has(status.type)) {
          resume();
          return;
        }
      }
    })();
  };

  const consumerOptions = (): Partial<OrderedConsumerOptions> => {
    const at = next as StreamStart;
    return 'seq' in at
      ? { filter_subjects: pattern, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: at.seq }
      : {
          filter_subjects: pattern,
          deliver_policy: DeliverPolicy.StartTime,
          opt_start_time: at.time.toISOString(),
        };
  };

  /** Creates the consumer, retrying while the server cannot (yet) make it. */
  const open = async (initial: boolean): Promise<void> => {
    let failingSince = Date.now();
    for (let attempt = 1; !stopped; attempt++) {
      if (context.isClosed()) throw new BrokerUnavailableError('the NATS broker is closed');
      if (!context.isConnected()) {
        if (initial) throw new BrokerUnavailableError(`NATS is unreachable: cannot read "${pattern}"`);
        // The reconnect event resumes again; waiting here keeps the position meanwhile.
        await delay(reconnectDelayMs(attempt, context.retryMaxWaitMs));
        failingSince = Date.now();
        continue;
      }
      try {
        const consumer = await context.js.consumers.get(stream, consumerOptions());
        const messages = await consumer.consume({ expires: PULL_EXPIRES_MS });
        const generation = { consumer, messages };
        if (stopped) {
          await release(generation);
          return;
        }
        current = generation;
        follow(generation);
        return;
      } catch (error) {
        if (isStreamNotFound(error)) throw new NotRetainedError(pattern);
        if (Date.now() - failingSince > context.resumeTimeoutMs) {
          throw new BrokerUnavailableError(
            `the JetStream consumer of "${pattern}" could not be ${initial ? 'created' : 'recreated'}: ${messageOf(error)}`,
            { cause: error },
          );
        }
        await delay(reconnectDelayMs(attempt, context.retryMaxWaitMs));
      }
    }
  };

  /** Drops the current consumer and makes a new one after the last delivered sequence. */
  function resume(): void {
    if (stopped) return;
    if (resuming) {
      resumeAgain = true;
      return;
    }
    resuming = true;
    const previous = current;
    current = undefined;
    void release(previous);
    troubleStreak += 1;
    void (async () => {
      try {
        // A consumer that keeps failing right after it was made is not retried in a spin.
        if (troubleStreak > 1) await delay(reconnectDelayMs(troubleStreak - 1, context.retryMaxWaitMs));
        await open(false);
      } catch (error) {
        stop(asUnavailable(error, pattern));
        return;
      } finally {
        resuming = false;
      }
      if (resumeAgain) {
        resumeAgain = false;
        resume();
      }
    })();
  }

  const stopListening = context.onReconnect(() => {
    troubleStreak = 0;
    resume();
  });

  const ready = (async () => {
    try {
      const found = await context.findStream(pattern);
      if (found === undefined) throw new NotRetainedError(pattern);
      stream = found;
      next = await start(stream);
      await open(true);
    } catch (error) {
      const failure = asUnavailable(error, pattern);
      stop();
      throw failure;
    }
  })();

  return {
    ready,
    finished,
    close: () => stop(),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof Error && /stream not found/i.test(error.message);
}

/** Our own errors pass as they are; anything from the client is the broker being unavailable. */
function asUnavailable(error: unknown, pattern: string): Error {
  if (isAppError(error)) return error as Error;
  return new BrokerUnavailableError(`the JetStream consumer of "${pattern}" failed: ${messageOf(error)}`, {
    cause: error,
  });
}
