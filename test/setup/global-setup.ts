/**
 * Vitest globalSetup: starts throwaway Postgres, NATS (JetStream), Redis and Kafka servers on
 * free loopback ports before any test file runs, and stops them after the last one.
 *
 * Tests read the URLs with `serviceUrls()` from `./services.ts` (or `inject('services')`), or
 * from TEST_DATABASE_URL, TEST_NATS_URL, TEST_REDIS_URL, TEST_KAFKA_BROKERS; each server's DIR
 * is in TEST_POSTGRES_DIR, TEST_NATS_DIR, TEST_REDIS_DIR, TEST_KAFKA_DIR.
 * STREAMGATE_TEST_SERVICES=none (or a list such as `postgres,nats`) starts fewer.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { runServiceScript, SERVICE_ENV, type ServiceName, selectedServices } from './service-scripts.ts';

interface StartedService {
  readonly name: ServiceName;
  readonly dir: string;
  readonly url: string;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { STREAMGATE_TEST_SERVICES } = process.env;
  const names = selectedServices(STREAMGATE_TEST_SERVICES);
  const dirs = new Map<ServiceName, string>();

  const stopAll = async (): Promise<void> => {
    const stops = [...dirs].map(([name, dir]) => runServiceScript(name, 'stop', dir));
    const failures = (await Promise.allSettled(stops)).filter((result) => result.status === 'rejected');
    for (const name of names) {
      delete process.env[SERVICE_ENV[name].url];
      delete process.env[SERVICE_ENV[name].dir];
    }
    if (failures.length > 0) {
      throw new AggregateError(
        failures.map((failure) => failure.reason),
        'could not stop every test service',
      );
    }
  };

  // All at once: Kafka's JVM dominates, the others are ready long before it.
  const results = await Promise.allSettled(
    names.map(async (name): Promise<StartedService> => {
      const dir = await mkdtemp(join(tmpdir(), `streamgate-${name}-`));
      dirs.set(name, dir);
      // The watchdog stops the server if this process dies before the teardown runs.
      const url = await runServiceScript(name, 'start', dir, { ownerPid: process.pid });
      return { name, dir, url };
    }),
  );

  const failures = results.flatMap((result) =>
    result.status === 'rejected' ? [result.reason as unknown] : [],
  );
  if (failures.length > 0) {
    // Vitest runs no teardown when setup throws: stop whatever did start before failing the run.
    await stopAll().catch(() => undefined);
    const messages = failures.map((failure) =>
      failure instanceof Error ? failure.message : String(failure),
    );
    throw new Error(`test services failed to start:\n\n${messages.join('\n\n')}`);
  }

  const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  project.provide('services', Object.fromEntries(started.map(({ name, url }) => [name, url])));
  project.provide('serviceDirs', Object.fromEntries(started.map(({ name, dir }) => [name, dir])));
  // Test workers start after this and inherit the environment, so plain process.env works too.
  for (const { name, url, dir } of started) {
    process.env[SERVICE_ENV[name].url] = url;
    process.env[SERVICE_ENV[name].dir] = dir;
  }

  return stopAll;
}
