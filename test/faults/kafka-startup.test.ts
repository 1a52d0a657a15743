/**
 * BROKER=kafka at start-up: a Kafka that is still starting (its group coordinator loading,
 * which kafkajs reports as the retriable "This is not the correct coordinator for this group")
 * is waited for within BROKER_CONNECT_TIMEOUT; a Kafka that never answers ends the start-up
 * with one line naming the broker and the cause, exit 1.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { createProcessRunner, freePort } from '../helpers/streamgate-process.ts';
import { type PrivateService, startService } from '../setup/services.ts';

const processes = createProcessRunner();
afterAll(() => processes.cleanup());

// Real processes and a real Kafka restarting: generous on a loaded 2-core machine.
describe('Kafka at start-up', { timeout: 400_000 }, () => {
  it('nothing listening at KAFKA_BROKERS: one line naming BROKER, KAFKA_BROKERS and the cause; exit 1', async () => {
    const kafkaPort = await freePort();
    const run = processes.start({
      PGLITE_DIR: await processes.tempDir('streamgate-kafka-startup-'),
      BROKER: 'kafka',
      KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
      BROKER_CONNECT_TIMEOUT: '2s',
    });
    expect(await run.exited).toBe(1);
    const output = run.output();
    const lines = output.split('\n').filter((line) => line.startsWith('streamgate: cannot start: '));
    expect(lines, output).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^streamgate: cannot start: BROKER=kafka is unreachable \\(KAFKA_BROKERS; gave up after BROKER_CONNECT_TIMEOUT\\): cannot reach Kafka at 127\\.0\\.0\\.1:${kafkaPort} within 2000 ms: .*ECONNREFUSED`,
      ),
    );
    expect(output).not.toMatch(/^\s+at /m); // no stack trace
  });

  describe('a Kafka that is just starting', () => {
    let kafka: PrivateService;
    afterAll(() => kafka?.stop());

    it('is waited for: streamgate starts once Kafka and its group coordinator are ready', async () => {
      kafka = await startService('kafka');
      // After a crash Kafka recovers its logs and loads the offsets topic again: the state in
      // which group requests answer "not the correct coordinator".
      await kafka.kill();
      const starting = kafka.up();
      const port = await freePort();
      const run = processes.start({
        PGLITE_DIR: await processes.tempDir('streamgate-kafka-startup-'),
        PORT: String(port),
        BROKER: 'kafka',
        KAFKA_BROKERS: kafka.url,
        BROKER_CONNECT_TIMEOUT: '300s',
        LOG_LEVEL: 'info',
      });
      let exitCode: number | null | undefined;
      void run.exited.then((code) => {
        exitCode = code;
      });
      await starting;
      await waitUntil(
        () => exitCode !== undefined || run.output().includes('streamgate is listening'),
        300_000,
        'streamgate to listen',
      );
      expect(exitCode, run.output()).toBeUndefined();
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      expect(run.output()).not.toContain('cannot start');
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    });
  });
});
