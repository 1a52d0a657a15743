import type { ExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/errors.ts';
import {
  type GroupEvent,
  type GroupMember,
  SubscriptionGroups,
  withoutHttpExtension,
} from '../../src/server/delivery/subscription-groups.ts';
import { createErrorMasker } from '../../src/server/error-masking.ts';
import type { OperationOutcome } from '../../src/server/operation-runner.ts';
import { AsyncQueue, waitUntil } from '../helpers/async-queue.ts';

/** A source stream the test pushes results into, that records when it is ended. */
function controlledSource() {
  const queue = new AsyncQueue<IteratorResult<ExecutionResult>>();
  let ended = false;
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    next: () => queue.next(10_000, 'the next source event'),
    async return() {
      ended = true;
      queue.push({ done: true, value: undefined });
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return {
    iterator,
    emit: (n: number) => queue.push({ done: false, value: { data: { n } } }),
    end: () => queue.push({ done: true, value: undefined }),
    fail: (error: Error) => queue.fail(error),
    get ended() {
      return ended;
    },
  };
}

/** A member that records what reaches it. */
function recordingMember() {
  const payloads = new AsyncQueue<string>();
  const events: GroupEvent[] = [];
  const outcome: { errors?: readonly GraphQLFormattedError[]; completed: boolean } = { completed: false };
  const member: GroupMember = {
    transport: undefined,
    next: (event) => {
      events.push(event);
      payloads.push(event.payload);
    },
    error: (errors) => {
      outcome.errors = errors;
    },
    complete: () => {
      outcome.completed = true;
    },
  };
  return { member, payloads, events, outcome };
}

describe('subscription groups', () => {
  it('runs one execution for equal keys and hands every member the same serialized event, in order', async () => {
    const groups = new SubscriptionGroups();
    const source = controlledSource();
    let starts = 0;
    const start = async (): Promise<OperationOutcome> => {
      starts += 1;
      return source.iterator;
    };
    const members = [recordingMember(), recordingMember(), recordingMember()];
    for (const { member } of members) groups.join('same', start, member);
    for (let n = 0; n < 50; n++) source.emit(n);
    for (const { payloads } of members) {
      const received = await payloads.take(50, 5_000, 'group events');
      expect(received.map((payload) => (JSON.parse(payload) as { data: { n: number } }).data.n)).toEqual(
        Array.from({ length: 50 }, (_, n) => n),
      );
    }
    expect(starts).toBe(1);
    // One event object per result: serialized once, whoever reads it.
    expect(members[0]?.events[7]).toBe(members[2]?.events[7]);
  });

  it("a lone member's frame takes the payload as text; members sharing an event share one encoding of it", async () => {
    const groups = new SubscriptionGroups();
    const source = controlledSource();
    const alone = recordingMember();
    groups.join(null, async () => source.iterator, alone.member);
    source.emit(1);
    expect(await alone.payloads.next(5_000, 'the lone event')).toBe('{"data":{"n":1}}');
    expect(alone.events[0]?.body).toBe('{"data":{"n":1}}');

    const shared = controlledSource();
    const [first, second] = [recordingMember(), recordingMember()];
    groups.join('k', async () => shared.iterator, first.member);
    groups.join('k', async () => shared.iterator, second.member);
    shared.emit(2);
    await first.payloads.next(5_000, 'the shared event');
    await second.payloads.next(5_000, 'the shared event');
    const body = first.events[0]?.body;
    expect(Buffer.isBuffer(body)).toBe(true);
    expect(body?.toString()).toBe('{"data":{"n":2}}');
    expect(second.events[0]?.body).toBe(body);
  });

  it('never shares across different keys or a null key', async () => {
    const groups = new SubscriptionGroups();
    const sources = [controlledSource(), controlledSource(), controlledSource()];
    let started = 0;
    const start = async () => sources[started++]?.iterator as OperationOutcome;
    const a = recordingMember();
    const b = recordingMember();
    const c = recordingMember();
    groups.join('tenant-a', start, a.member);
    groups.join('tenant-b', start, b.member);
    groups.join(null, start, c.member);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toBe(3);
    sources[0]?.emit(1);
    expect(await a.payloads.next()).toBe('{"data":{"n":1}}');
    expect(b.payloads.pending).toEqual([]);
    expect(c.payloads.pending).toEqual([]);
  });

  it('a member that leaves stops receiving, the others go on; the last one ends the source', async () => {
    const groups = new SubscriptionGroups();
    const source = controlledSource();
    const start = async (): Promise<OperationOutcome> => source.iterator;
    const stays = recordingMember();
    const leaves = recordingMember();
    groups.join('k', start, stays.member);
    const membership = groups.join('k', start, leaves.member);
    source.emit(1);
    await leaves.payloads.next();
    membership.leave();
    source.emit(2);
    expect(JSON.parse(await stays.payloads.take(2).then((all) => all[1] ?? ''))).toEqual({ data: { n: 2 } });
    expect(leaves.payloads.pending).toEqual([]);
    expect(leaves.outcome.completed).toBe(false);
    expect(source.ended).toBe(false);
    groups.join('k', start, recordingMember().member).leave();
    expect(source.ended).toBe(false);
    expect(groups.size).toBe(1);
  });

  it('the last member leaving ends the source, and a later joiner starts a new execution', async () => {
    const groups = new SubscriptionGroups();
    const first = controlledSource();
    const second = controlledSource();
    let starts = 0;
    const start = async () => (starts++ === 0 ? first.iterator : second.iterator) as OperationOutcome;
    const only = recordingMember();
    const membership = groups.join('k', start, only.member);
    first.emit(1);
    await only.payloads.next();
    membership.leave();
    expect(first.ended).toBe(true);
    expect(groups.size).toBe(0);
    const later = recordingMember();
    groups.join('k', start, later.member);
    second.emit(2);
    expect(await later.payloads.next()).toBe('{"data":{"n":2}}');
    expect(starts).toBe(2);
  });

  it('a start refused with a result gives each member that result, then complete', async () => {
    const groups = new SubscriptionGroups();
    const refusal: ExecutionResult = { errors: [] };
    const start = async () => ({ ...refusal, data: null }) as OperationOutcome;
    const a = recordingMember();
    const b = recordingMember();
    groups.join('k', start, a.member);
    groups.join('k', start, b.member);
    expect(await a.payloads.next()).toBe('{"data":null,"errors":[]}');
    expect(await b.payloads.next()).toBe('{"data":null,"errors":[]}');
    expect(a.outcome.completed && b.outcome.completed).toBe(true);
    expect(groups.size).toBe(0);
  });

  it('a source that fails gives every member the error and no complete; an end completes them', async () => {
    const groups = new SubscriptionGroups();
    const failing = controlledSource();
    const ending = controlledSource();
    const a = recordingMember();
    const b = recordingMember();
    groups.join('fails', async () => failing.iterator, a.member);
    groups.join('ends', async () => ending.iterator, b.member);
    failing.fail(new Error('broker gone'));
    ending.end();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(a.outcome).toEqual({ completed: false, errors: [{ message: 'broker gone' }] });
    expect(b.outcome).toEqual({ completed: true });
  });

  it("a source that fails mid-stream is masked as a failed start is: a driver's message never reaches a member", async () => {
    const maskError = createErrorMasker(pino({ level: 'silent' }), () => false);
    const groups = new SubscriptionGroups({
      onStartFailure: (error) => withoutHttpExtension(maskError(error) as GraphQLError),
    });
    const internal = controlledSource();
    const unavailable = controlledSource();
    const a = recordingMember();
    const b = recordingMember();
    groups.join('internal', async () => internal.iterator, a.member);
    groups.join('unavailable', async () => unavailable.iterator, b.member);
    internal.emit(1);
    expect(await a.payloads.next()).toBe('{"data":{"n":1}}');
    internal.fail(new Error('connect ECONNREFUSED 10.1.2.3:5432 (pg pool "replay")'));
    unavailable.fail(new UnavailableError('the broker is reconnecting'));
    await waitUntil(
      () => a.outcome.errors !== undefined && b.outcome.errors !== undefined,
      5_000,
      'both failed',
    );
    expect(JSON.stringify(a.outcome.errors)).not.toContain('10.1.2.3');
    expect(a.outcome.errors?.[0]?.message).toMatch(/^internal error \(correlation id /);
    expect(a.outcome.errors?.[0]?.extensions?.code).toBe('INTERNAL');
    expect(b.outcome.errors?.[0]).toMatchObject({
      message: 'the broker is reconnecting',
      extensions: { code: 'UNAVAILABLE' },
    });
  });

  it('tells members the stream started only once a lazy source is listening upstream', async () => {
    const groups = new SubscriptionGroups();
    // An async generator runs nothing before its first next(): a source that subscribes to the
    // broker in its body would miss a publish made by a client as soon as it hears "started".
    let listening = false;
    async function* lazySource(): AsyncGenerator<ExecutionResult> {
      listening = true;
      yield { data: { n: 1 } };
    }
    const heard = new AsyncQueue<boolean>();
    const { member, payloads } = recordingMember();
    member.started = () => heard.push(listening);
    groups.join('lazy', async () => lazySource(), member);
    expect(await heard.next(5_000, 'started')).toBe(true);
    expect(await payloads.next(5_000, 'the first event')).toBe('{"data":{"n":1}}');
  });

  it('completeAll ends every group, keyed or not, with complete', async () => {
    const groups = new SubscriptionGroups();
    const keyed = controlledSource();
    const solo = controlledSource();
    const a = recordingMember();
    const b = recordingMember();
    groups.join('k', async () => keyed.iterator, a.member);
    groups.join(null, async () => solo.iterator, b.member);
    await new Promise((resolve) => setImmediate(resolve));
    groups.completeAll();
    expect(a.outcome.completed && b.outcome.completed).toBe(true);
    expect(keyed.ended && solo.ended).toBe(true);
  });
});
