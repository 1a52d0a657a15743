import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../src/main/lifecycle.ts';

/** A service that writes what happens to it into `events`. */
function recorded(name: string, events: string[], stop: () => Promise<void> | void = () => {}) {
  return {
    start: () => {
      events.push(`start ${name}`);
    },
    stop: async () => {
      events.push(`stop ${name}`);
      await stop();
    },
  };
}

function logged() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'error' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe('the lifecycle registry of the composition root', () => {
  it('stops in reverse order of start, adopted things included, and only once', async () => {
    const events: string[] = [];
    const lifecycle = new Lifecycle(logged().log);
    lifecycle.adopt('database', () => {
      events.push('close database');
    });
    await lifecycle.start('topics', recorded('topics', events));
    lifecycle.adopt('owned by someone else', undefined);
    await lifecycle.start('transports', recorded('transports', events));

    await Promise.all([lifecycle.stop(), lifecycle.stop()]);
    await lifecycle.stop();

    expect(events).toEqual([
      'start topics',
      'start transports',
      'stop transports',
      'stop topics',
      'close database',
    ]);
  });

  it('a failing stop is logged with the service name and the others still stop', async () => {
    const events: string[] = [];
    const { log, lines } = logged();
    const lifecycle = new Lifecycle(log);
    await lifecycle.start('first', recorded('first', events));
    await lifecycle.start(
      'broken',
      recorded('broken', events, () => {
        throw new Error('socket already gone');
      }),
    );

    await lifecycle.stop();

    expect(events).toEqual(['start first', 'start broken', 'stop broken', 'stop first']);
    expect(lines).toMatchObject([
      { service: 'broken', msg: 'stopping a service failed', err: { message: 'socket already gone' } },
    ]);
  });

  it('a start-up that fails half-way stops what had started and rethrows', async () => {
    const events: string[] = [];
    const lifecycle = new Lifecycle(logged().log);
    const failure = await lifecycle
      .building(async () => {
        lifecycle.adopt('database', () => {
          events.push('close database');
        });
        await lifecycle.start('topics', recorded('topics', events));
        await lifecycle.start('broker feed', {
          start: () => {
            throw new Error('broker unreachable');
          },
          stop: () => {
            events.push('stop broker feed');
          },
        });
      })
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe('broker unreachable');
    // The service whose start failed is not stopped: it never ran.
    expect(events).toEqual(['start topics', 'stop topics', 'close database']);
  });

  it('past the deadline a stop that hangs is not waited for, and the ones below it are still begun', async () => {
    const events: string[] = [];
    const lifecycle = new Lifecycle(logged().log);
    lifecycle.adopt('database', () => {
      events.push('close database');
    });
    // A stop that never ends, like a pool waiting on a dead server.
    await lifecycle.start(
      'sync store',
      recorded('sync store', events, () => new Promise<void>(() => {})),
    );

    // Resolves although the sync store's stop never does (else the test times out).
    await lifecycle.stop(Date.now() + 200);

    expect(events).toEqual(['start sync store', 'stop sync store', 'close database']);
  });
});
