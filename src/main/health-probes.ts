import type { Database } from '../db/create-database.ts';
import { HEALTH_STATUS, type HealthProbe } from '../domain/health.ts';
import type { Broker, BrokerHealth } from '../pubsub/broker.ts';

/** The database's probe for /health: a round trip (refresh it in the background). */
export function databaseProbe(db: Database): HealthProbe {
  return {
    name: 'database',
    required: true,
    check: async () => ({ status: HEALTH_STATUS.OK, latencyMs: await db.ping() }),
  };
}

/**
 * The broker's probes for /health: `broker` always, and `kafka` or `redis` as well when that
 * is the broker, since the legacy /health body names those dependencies.
 */
export function brokerProbes(broker: Broker): HealthProbe[] {
  const check = async () => {
    const health = broker.health();
    if (health.status === 'connected') return { status: HEALTH_STATUS.OK };
    throw new Error(`${broker.kind} broker ${describeHealth(health)}`);
  };
  const probes: HealthProbe[] = [{ name: 'broker', required: true, check }];
  if (broker.kind === 'kafka' || broker.kind === 'redis')
    probes.push({ name: broker.kind, required: true, check });
  return probes;
}

/** "reconnecting (attempt 3): connection refused", "closed". */
function describeHealth(health: BrokerHealth): string {
  const state = health.status === 'reconnecting' ? `reconnecting (attempt ${health.attempt})` : health.status;
  return health.status !== 'connected' && health.error ? `${state}: ${health.error}` : state;
}

/**
 * Probes of one name folded into one (the broker and the Kafka topics may both ask about
 * Kafka): required when any of them is, OK only when every one is.
 */
export function mergeProbesByName(probes: readonly HealthProbe[]): HealthProbe[] {
  const byName = new Map<string, HealthProbe[]>();
  for (const probe of probes) byName.set(probe.name, [...(byName.get(probe.name) ?? []), probe]);
  return [...byName.entries()].map(([name, group]) =>
    group.length === 1
      ? (group[0] as HealthProbe)
      : {
          name,
          required: group.some((probe) => probe.required),
          check: async () => {
            const results = await Promise.all(group.map((probe) => probe.check()));
            return (
              results.find((result) => result.status !== HEALTH_STATUS.OK) ?? { status: HEALTH_STATUS.OK }
            );
          },
        },
  );
}
