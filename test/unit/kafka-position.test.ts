import { describe, expect, it } from 'vitest';
import { InvalidPositionError } from '../../src/pubsub/errors.ts';
import { decodeKafkaPosition, encodeKafkaPosition } from '../../src/pubsub/kafka/kafka-position.ts';

describe('Kafka positions', () => {
  it('round-trips a cursor', () => {
    const cursor = { t: 1_700_000_000_000, o: { 'streamgate.monitor': { '0': 12, '3': 7 } } };
    expect(decodeKafkaPosition(encodeKafkaPosition(cursor))).toEqual(cursor);
  });

  const encode = (value: unknown) => `k1.${Buffer.from(JSON.stringify(value)).toString('base64url')}`;
  it.each([
    ['', 'empty'],
    ['12', 'a bare offset'],
    ['0:12', 'partition:offset'],
    ['k1.not-base64-json', 'garbage after the prefix'],
    [encode({ o: {} }), 'no time'],
    [encode({ t: 1, o: { topic: { x: 1 } } }), 'a partition that is not a number'],
    [encode({ t: 1, o: { topic: { '0': -1 } } }), 'a negative offset'],
    [encode({ t: 1, o: { topic: { '0': 1.5 } } }), 'a fractional offset'],
  ])('rejects %j (%s)', (position) => {
    expect(() => decodeKafkaPosition(position)).toThrow(InvalidPositionError);
  });
});
