import { describe, expect, it } from 'vitest';
import { messageBreakdown, percentile } from '../../bench/support/latency-stats.ts';

/**
 * The fan-out benchmark's per-message view of its latency samples (bench/support/latency-stats.ts):
 * samples of one message share its sentAt, whatever order they arrive in.
 */
describe('messageBreakdown', () => {
  it("groups samples by their message's sentAt: earliest and latest per message, slow ones counted", () => {
    // Message 1000.5 starts on time and ends late; 2000.25 is late from its first sample; 3000 is quick.
    const samples = [
      { sentAt: 1000.5, latencyMs: 2 },
      { sentAt: 2000.25, latencyMs: 30 },
      { sentAt: 1000.5, latencyMs: 25 },
      { sentAt: 3000, latencyMs: 1 },
      { sentAt: 2000.25, latencyMs: 21 },
      { sentAt: 1000.5, latencyMs: 9 },
      { sentAt: 3000, latencyMs: 4 },
    ];
    expect(messageBreakdown(samples, 20)).toEqual({
      messages: 3,
      firstP50Ms: 2, // firsts 1, 2, 21
      firstP99Ms: 21,
      lastP50Ms: 25, // lasts 4, 25, 30
      lastP99Ms: 30,
      spreadP50Ms: 9, // spreads 3, 23, 9
      spreadP99Ms: 23,
      slowMessages: 2,
      slowFromTheStart: 1,
    });
  });

  it('gives no figures and no messages for no samples', () => {
    const breakdown = messageBreakdown([], 20);
    expect(breakdown.messages).toBe(0);
    expect(breakdown.slowMessages).toBe(0);
    expect(breakdown.firstP99Ms).toBeNaN();
  });
});

describe('percentile', () => {
  it('is the nearest rank: the minimum at 0, the maximum at 1, the middle one at 0.5', () => {
    expect([0, 0.5, 0.99, 1].map((fraction) => percentile([1, 2, 3], fraction))).toEqual([1, 2, 3, 3]);
  });
});
