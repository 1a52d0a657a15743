import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeepAliveRounds } from '../../src/server/keep-alive-rounds.ts';

/**
 * The keep-alive of a route's sockets and event streams: every item is visited once per interval
 * (the liveness promise: a client that missed one ping is cut at the next), a slice at a time so
 * that a thousand sockets are never pinged in one burst.
 */
describe('KeepAliveRounds', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Rounds over `count` items, recording every visit by tick. */
  function rounds(intervalMs: number, count: number) {
    const visits: string[][] = [];
    let tick: string[] = [];
    const keepAlive = new KeepAliveRounds<string>(intervalMs, (item) => tick.push(item));
    const advance = (ms: number, step: number) => {
      for (let elapsed = 0; elapsed < ms; elapsed += step) {
        tick = [];
        vi.advanceTimersByTime(step);
        if (tick.length > 0) visits.push(tick);
      }
    };
    const items = Array.from({ length: count }, (_, index) => `socket-${index}`);
    for (const item of items) keepAlive.add(item);
    return { keepAlive, visits, advance, items };
  }

  const countVisits = (visits: string[][]) => {
    const counts = new Map<string, number>();
    for (const item of visits.flat()) counts.set(item, (counts.get(item) ?? 0) + 1);
    return counts;
  };

  it('visits every item once per interval, a twelfth of them per second for 12 s', () => {
    const { keepAlive, visits, advance, items } = rounds(12_000, 1_000);
    advance(12_000, 100);
    expect(visits).toHaveLength(12);
    for (const tick of visits) expect(tick.length).toBeLessThanOrEqual(84);
    const once = countVisits(visits);
    expect([...once.keys()].sort()).toEqual([...items].sort());
    expect(new Set(once.values())).toEqual(new Set([1]));

    advance(12_000, 100);
    expect(new Set(countVisits(visits).values())).toEqual(new Set([2]));
    expect(keepAlive.size).toBe(1_000);
    keepAlive.dispose();
  });

  it('no item waits more than one interval between visits, one added late included', () => {
    const seenAt = new Map<string, number[]>();
    let now = 0;
    const record = new KeepAliveRounds<string>(12_000, (item) =>
      seenAt.set(item, [...(seenAt.get(item) ?? []), now]),
    );
    for (let index = 0; index < 30; index++) record.add(`s${index}`);
    for (; now < 5_000; now += 100) vi.advanceTimersByTime(100);
    record.add('late');
    for (; now < 40_000; now += 100) vi.advanceTimersByTime(100);
    expect(seenAt.size).toBe(31);
    for (const [item, times] of seenAt) {
      const first = times[0] as number;
      expect(first - (item === 'late' ? 5_000 : 0), item).toBeLessThanOrEqual(12_000);
      for (let index = 1; index < times.length; index++) {
        expect((times[index] as number) - (times[index - 1] as number), item).toBe(12_000);
      }
    }
    record.dispose();
  });

  it('leaves out an item deleted from the rounds, and stops on dispose', () => {
    const { keepAlive, visits, advance, items } = rounds(12_000, 24);
    keepAlive.delete('socket-3');
    keepAlive.delete('not-in-the-rounds');
    expect(keepAlive.size).toBe(23);
    advance(12_000, 500);
    const counts = countVisits(visits);
    expect(counts.has('socket-3')).toBe(false);
    expect(counts.size).toBe(items.length - 1);
    keepAlive.dispose();
    visits.length = 0;
    advance(24_000, 500);
    expect(visits).toEqual([]);
  });

  it('an interval of about one slice (a second) or less is one round for all, as before', () => {
    const { keepAlive, visits, advance } = rounds(200, 5);
    advance(600, 50);
    expect(visits).toHaveLength(3);
    for (const tick of visits) expect(tick).toHaveLength(5);
    keepAlive.dispose();
  });
});
