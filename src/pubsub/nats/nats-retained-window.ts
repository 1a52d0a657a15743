import { createHash } from 'node:crypto';
import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { RetainOptions } from '../broker.ts';
import { RetainConflictError } from '../errors.ts';
import { patternCovers } from '../subject-pattern.ts';

/** Bounds the `covering` answers kept (subjects and patterns asked about); past it they start over. */
const MAX_REMEMBERED_ANSWERS = 10_000;

/** Prefix of the JetStream streams streamgate creates for retained windows. */
export const STREAM_PREFIX = 'SG_';

/**
 * How long JetStream remembers message ids for de-duplication (it may not exceed max_age).
 * Streamgate's ids are those of chained batch publishes (nats-publish-acks.ts): a broken chain
 * is sent again at the latest after one ack timeout (5 s), and its duplicates must still be
 * known then. Not longer: nats-server keeps every id of the window in memory (≈ 100 bytes
 * each, so 20 s at 50k messages/s is ≈ 100 MB) and reads the window back after a restart.
 */
const DUPLICATE_WINDOW_MS = 20_000;

/**
 * The stream name of a retained pattern: readable, and unique through a hash, since stream
 * names may not contain `.`, `*` or `>` (`monitor.>` → `SG_monitor_GT_3f2a9c1b`).
 */
export function streamNameOf(pattern: string): string {
  const readable = pattern
    .replaceAll('.', '_')
    .replaceAll('*', 'STAR')
    .replaceAll('>', 'GT')
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 160);
  const hash = createHash('sha256').update(pattern).digest('hex').slice(0, 8);
  return `${STREAM_PREFIX}${readable}_${hash}`;
}

interface KnownStream {
  readonly name: string;
  readonly subjects: readonly string[];
}

/**
 * The JetStream streams that hold retained windows, as this instance knows them: the ones it
 * created, and those it found on the server (made by another streamgate, or by a legacy
 * system: a stream that already captures a pattern is used as it is, never changed).
 * NATS allows no two streams with overlapping subjects, so at most one stream covers a subject.
 */
export class NatsRetainedWindows {
  private known: KnownStream[] = [];
  /**
   * `covering` answers as of `known` (cleared whenever it changes): every publish asks, and the
   * scan visits every stream, one per device with a buffer window.
   */
  private readonly answers = new Map<string, string | undefined>();

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly storage: 'file' | 'memory',
  ) {}

  /** Reads every stream of the account (called at start-up and when a lookup misses). */
  async refresh(): Promise<void> {
    const found: KnownStream[] = [];
    for await (const info of this.jsm.streams.list()) {
      found.push({ name: info.config.name, subjects: info.config.subjects ?? [] });
    }
    this.known = found;
    this.answers.clear();
  }

  /** The stream whose subjects cover `pattern` (or a concrete subject), if this instance knows one. */
  covering(pattern: string): string | undefined {
    if (this.answers.has(pattern)) return this.answers.get(pattern);
    const name = this.known.find((stream) =>
      stream.subjects.some((subject) => patternCovers(subject, pattern)),
    )?.name;
    if (this.answers.size >= MAX_REMEMBERED_ANSWERS) this.answers.clear();
    this.answers.set(pattern, name);
    return name;
  }

  /** Like `covering`, asking the server when this instance knows of none. */
  async find(pattern: string): Promise<string | undefined> {
    const known = this.covering(pattern);
    if (known !== undefined) return known;
    await this.refresh();
    return this.covering(pattern);
  }

  /** The server's description of a stream (limits and state). */
  streamInfo(name: string): Promise<StreamInfo> {
    return this.jsm.streams.info(name);
  }

  /** The stream was deleted behind our back (a publish found no stream): forget it. */
  forget(name: string): void {
    this.known = this.known.filter((stream) => stream.name !== name);
    this.answers.clear();
  }

  /**
   * Makes sure a stream keeps `pattern` within the limits. Our own stream of exactly this
   * pattern is created or updated; a wider stream of ours has its limits raised to cover both;
   * someone else's stream that already captures the pattern is left alone.
   */
  async retain(pattern: string, options: RetainOptions): Promise<void> {
    const name = streamNameOf(pattern);
    const covering = (await this.find(pattern)) ?? name;
    if (!covering.startsWith(STREAM_PREFIX)) return;
    const limits = covering === name ? limitsOf(options) : await this.widenedLimits(covering, options);
    try {
      await this.jsm.streams.add({
        name: covering,
        subjects: covering === name ? [pattern] : undefined,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        storage: this.storage === 'file' ? StorageType.File : StorageType.Memory,
        num_replicas: 1,
        ...limits,
      });
    } catch (error) {
      if (!isApiError(error, 'already in use')) {
        if (isApiError(error, 'overlap')) {
          throw new RetainConflictError(
            `cannot retain "${pattern}": a JetStream stream already captures part of it (${(error as Error).message}); retain a pattern that covers it, or the same one`,
          );
        }
        throw error;
      }
      // The stream exists with other limits (another instance, an earlier run): take ours.
      await this.jsm.streams.update(covering, limits);
    }
    if (!this.known.some((stream) => stream.name === covering)) {
      this.known.push({ name: covering, subjects: [pattern] });
      this.answers.clear();
    }
  }

  private async widenedLimits(stream: string, options: RetainOptions): Promise<Partial<StreamConfig>> {
    const { config } = await this.jsm.streams.info(stream);
    const wanted = limitsOf(options);
    const maxAge = config.max_age === 0 ? 0 : Math.max(config.max_age, wanted.max_age);
    return {
      subjects: config.subjects,
      max_age: maxAge,
      max_msgs:
        config.max_msgs === -1 || wanted.max_msgs === -1 ? -1 : Math.max(config.max_msgs, wanted.max_msgs),
      duplicate_window: Math.min(config.duplicate_window, maxAge === 0 ? config.duplicate_window : maxAge),
    };
  }
}

function limitsOf(options: RetainOptions): { max_age: number; max_msgs: number; duplicate_window: number } {
  return {
    max_age: nanos(options.maxAgeMs),
    max_msgs: options.maxMessages ?? -1,
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, options.maxAgeMs)),
  };
}

function isApiError(error: unknown, text: string): boolean {
  return error instanceof JetStreamApiError && error.message.includes(text);
}
