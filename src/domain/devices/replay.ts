/**
 * Replay of a recording (legacy.md C pacing): original order; the delay before message i is
 * (t[i] − t[i−1]) / speed. Due times are computed from one anchor taken at the first message, so
 * timer lateness never adds up (no drift); speed 0 sends as fast as the consumer pulls. Messages
 * are read from Postgres a page at a time with one page read ahead, and handed on in pages (at
 * speed 0 a whole page, otherwise each message alone, when it is due) so that the API executes
 * one selection per page: memory stays bounded whatever the recording's size, because the
 * consumer pulls the next page only once it has passed this one on.
 */
import type { Database } from '../../db/create-database.ts';
import { BadUserInputError, NotFoundError } from '../../errors.ts';
import type { DeviceMessage, RecordedMessage } from './device-message.ts';
import type { DeviceScope } from './device-store.ts';
import {
  findRecording,
  messagesOf,
  type RecordingKey,
  type ReplayColumns,
  readRecordingPage,
} from './recording-store.ts';

export interface ReplayOptions {
  readonly recordingId: string;
  /** Start at the first message at or after this instant. */
  readonly from?: Date | null;
  /** 1 = real time, 2 = twice as fast, 0 = as fast as the client reads. @default 1 */
  readonly speed?: number | null;
  /** Start again at the end instead of completing. @default false */
  readonly loop?: boolean | null;
  /**
   * The DeviceMessage fields the consumer reads (a superset will do): the stored columns of the
   * others are not read. @default all of them
   */
  readonly messageFields?: ReadonlySet<string>;
}

/** One replayed message (ReplayEvent). */
export interface ReplayEvent {
  readonly recordingId: string;
  readonly message: DeviceMessage;
  /** 0..1: the message's place in the whole recording. */
  readonly progress: number;
}

/** Messages in replay order, as many as are due now (one page read at speed 0, else one). */
export type ReplayPage = readonly ReplayEvent[];

/** @default 500: messages read from Postgres at a time. */
export const REPLAY_PAGE_SIZE = 500;

/** Checks a replay speed: finite and ≥ 0. */
export function validateSpeed(speed: number): number {
  if (!Number.isFinite(speed) || speed < 0) {
    throw new BadUserInputError(`speed must be a finite number ≥ 0 (0 = as fast as you read), got ${speed}`);
  }
  return speed;
}

/**
 * Checks the arguments and the recording, then returns the replay stream. Errors (bad speed,
 * unknown recording) are thrown here, before any event, so a subscription fails at once.
 */
export async function openReplay(
  db: Database,
  scope: DeviceScope,
  options: ReplayOptions,
): Promise<AsyncIterableIterator<ReplayPage>> {
  const speed = validateSpeed(options.speed ?? 1);
  const recording = await findRecording(db, scope, options.recordingId);
  if (!recording) throw new NotFoundError('recording', options.recordingId);
  const total = await db.prisma.recordingMessage.count({ where: messagesOf(recording) });
  let startAfterSeq = 0n;
  let skipped = 0;
  if (options.from) {
    const first = await db.prisma.recordingMessage.findFirst({
      where: { ...messagesOf(recording), timestamp: { gte: options.from } },
      orderBy: { seq: 'asc' },
      select: { seq: true },
    });
    startAfterSeq = first ? first.seq - 1n : BigInt(Number.MAX_SAFE_INTEGER);
    skipped = first
      ? await db.prisma.recordingMessage.count({
          where: { ...messagesOf(recording), seq: { lt: first.seq } },
        })
      : total;
  }
  const controller = new AbortController();
  const source = replayMessages({
    db,
    recording: { tenantId: recording.tenantId, id: recording.id, deviceId: recording.deviceId },
    columns: replayColumns(options.messageFields, speed),
    startAfterSeq,
    skipped,
    total,
    speed,
    loop: options.loop === true,
    signal: controller.signal,
  });
  return cancellable(source, controller);
}

/** The columns to read: those of the fields read, and the timestamp whenever pacing needs it. */
function replayColumns(fields: ReadonlySet<string> | undefined, speed: number): ReplayColumns {
  const reads = (field: string) => fields === undefined || fields.has(field);
  return {
    timestamp: speed > 0 || reads('timestamp'),
    eventId: reads('eventId'),
    type: reads('type'),
    symbol: reads('symbol'),
    headers: reads('headers'),
  };
}

interface ReplayPlan {
  readonly db: Database;
  readonly recording: RecordingKey & { readonly deviceId: string };
  readonly columns: ReplayColumns;
  readonly startAfterSeq: bigint;
  readonly skipped: number;
  readonly total: number;
  readonly speed: number;
  readonly loop: boolean;
  readonly signal: AbortSignal;
}

async function* replayMessages(plan: ReplayPlan): AsyncGenerator<ReplayPage> {
  const { db, recording, columns, speed, signal } = plan;
  const read = (afterSeq: bigint) => readRecordingPage(db, recording, afterSeq, REPLAY_PAGE_SIZE, columns);
  do {
    let index = plan.skipped;
    let anchor: number | undefined;
    let dueOffset = 0;
    let previousTime: number | undefined;
    let sent = 0;
    let next = read(plan.startAfterSeq);
    for (;;) {
      const { messages, lastSeq } = await next;
      if (lastSeq === undefined) break;
      // At speed 0 nothing here waits on a timer, and an embedded database answers without I/O:
      // give the event loop a turn per page so sockets and timers are not starved.
      await new Promise((resolve) => setImmediate(resolve));
      if (signal.aborted) return;
      // Read ahead while this page is replayed; a full page means there may be more.
      next =
        messages.length === REPLAY_PAGE_SIZE
          ? read(lastSeq)
          : Promise.resolve({ messages: [], lastSeq: undefined });
      next.catch(() => undefined); // awaited on the next turn; do not let it go unhandled meanwhile
      const event = (message: RecordedMessage): ReplayEvent => {
        index += 1;
        sent += 1;
        return {
          recordingId: recording.id,
          message,
          progress: plan.total === 0 ? 1 : index / plan.total,
        };
      };
      if (speed === 0) {
        // Nothing to wait for: the whole page at once; the consumer pulls the next when it is done.
        yield messages.map(event);
        continue;
      }
      for (const message of messages) {
        if (signal.aborted) return;
        const time = message.epochMs;
        if (anchor !== undefined) {
          dueOffset += Math.max(0, time - (previousTime ?? time)) / speed;
          await sleepUntil(anchor + dueOffset, signal);
          if (signal.aborted) return;
        }
        previousTime = time;
        yield [event(message)];
        // The consumer pulls the next message once it has sent this one: the schedule starts
        // from the first message's delivery, not from before it, so the span is the recorded one.
        anchor ??= performance.now();
      }
    }
    // A loop over nothing would spin forever.
    if (sent === 0) return;
  } while (plan.loop && !signal.aborted);
}

/** Resolves at `deadline` (a performance.now() value), or at once when aborted. */
function sleepUntil(deadline: number, signal: AbortSignal): Promise<void> {
  const wait = deadline - performance.now();
  if (wait <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, wait);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * An async generator cannot be returned while it awaits a timer; this wrapper aborts the wait
 * first, so a client that unsubscribes during a long gap is let go at once.
 */
function cancellable<T>(source: AsyncGenerator<T>, controller: AbortController): AsyncIterableIterator<T> {
  return {
    next: () => source.next(),
    async return() {
      controller.abort();
      await source.return(undefined);
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      controller.abort();
      await source.return(undefined);
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
