import { describe, expect, it } from 'vitest';
import { decodePosition, encodePosition, mergePositions } from '../../src/domain/topics/topic-position.ts';

describe('topic positions', () => {
  it('round-trips Kafka and broker cursors of several topics', () => {
    const cursors = new Map([
      [
        'prices',
        {
          kind: 'kafka' as const,
          next: new Map([
            [0, 12n],
            [3, 9_007_199_254_740_993n],
          ]),
        },
      ],
      ['alerts', { kind: 'broker' as const, after: '42' }],
      ['news', { kind: 'broker' as const, since: new Date('2026-01-15T10:30:00.000Z') }],
    ]);
    expect(decodePosition(encodePosition(cursors))).toEqual(cursors);
  });

  it('merges per topic, the later token winning', () => {
    const a = encodePosition(new Map([['x', { kind: 'broker' as const, after: '1' }]]));
    const b = encodePosition(new Map([['y', { kind: 'broker' as const, after: '2' }]]));
    const c = encodePosition(new Map([['x', { kind: 'broker' as const, after: '3' }]]));
    expect(decodePosition(mergePositions([a, b, c]))).toEqual(
      new Map([
        ['x', { kind: 'broker', after: '3' }],
        ['y', { kind: 'broker', after: '2' }],
      ]),
    );
  });

  it.each([
    '',
    'garbage',
    Buffer.from('{"v":2,"t":{}}').toString('base64url'),
    Buffer.from('{"v":1,"t":{"x":{"k":{"0":"-1"}}}}').toString('base64url'),
  ])('rejects %j as BAD_USER_INPUT', (token) => {
    expect(() => decodePosition(token)).toThrow('is not a topicMessages position');
  });
});
