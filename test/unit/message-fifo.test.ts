import { describe, expect, it } from 'vitest';
import { Fifo } from '../../src/pubsub/message-fifo.ts';

describe('Fifo', () => {
  it('gives items back in order across its compactions', () => {
    const fifo = new Fifo<number>();
    const taken: number[] = [];
    for (let index = 0; index < 5_000; index++) {
      fifo.push(index);
      // Take two for every three pushed, so the front is dropped while items are queued.
      if (index % 3 !== 2) taken.push(fifo.shift() as number);
    }
    while (fifo.length > 0) taken.push(fifo.shift() as number);
    expect(taken).toEqual(Array.from({ length: 5_000 }, (_, index) => index));
    expect(fifo.shift()).toBeUndefined();
  });

  it('is empty after clear', () => {
    const fifo = new Fifo<string>();
    fifo.push('a');
    fifo.clear();
    expect(fifo.length).toBe(0);
    expect(fifo.shift()).toBeUndefined();
  });
});
