import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/duration.ts';

describe('parseDuration', () => {
  it.each([
    ['1500ms', 1_500],
    ['90s', 90_000],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['1.5s', 1_500],
    ['PT5M', 300_000],
    ['PT1H30M', 5_400_000],
    ['P1DT2H', 93_600_000],
    ['PT0.25S', 250],
    ['P2W', 1_209_600_000],
    [' 90s ', 90_000],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '5x', '-5s', 's', 'P', 'PT', 'P1Y', 'P1M', '5 m', 'ms'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, 'PT0S'],
    [1_500, 'PT1.5S'],
    [90_000, 'PT1M30S'],
    [86_400_000, 'P1D'],
    [93_600_000, 'P1DT2H'],
  ])('writes %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips what it writes', () => {
    for (const ms of [1, 999, 61_000, 3_600_000, 7 * 86_400_000 + 5])
      expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
