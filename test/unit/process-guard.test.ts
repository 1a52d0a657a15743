import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.ts';
import { guardProcess, uncaughtErrors } from '../../src/process-guard.ts';

/** A logger whose JSON lines are kept for the test to read. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

describe('the process guard', () => {
  it('logs an uncaught exception at error with its stack, counts it, and the process keeps going', async () => {
    const source = new EventEmitter();
    const { log, lines } = capturedLogger();
    const metrics = createMetrics({ processMetrics: false });
    const uninstall = guardProcess(source, log, metrics);

    const error = new TypeError('one connection broke');
    source.emit('uncaughtException', error);
    source.emit('unhandledRejection', new Error('a promise nobody awaited'));

    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toHaveLength(2);
    const [exception, rejection] = lines;
    expect(exception).toMatchObject({
      level: 50,
      err: { type: 'TypeError', message: 'one connection broke' },
    });
    expect((exception?.err as { stack?: string } | undefined)?.stack).toContain('process-guard.test.ts');
    expect(rejection).toMatchObject({ level: 50, err: { message: 'a promise nobody awaited' } });
    const counted = (await uncaughtErrors(metrics).get()).values.map(({ labels, value }) => [
      labels.kind,
      value,
    ]);
    expect(counted).toEqual(
      expect.arrayContaining([
        ['exception', 1],
        ['rejection', 1],
      ]),
    );

    uninstall();
    expect(source.listenerCount('uncaughtException')).toBe(0);
    expect(source.listenerCount('unhandledRejection')).toBe(0);
  });
});
