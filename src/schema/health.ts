import type { DependencyHealth, HealthReport } from '../domain/health.ts';
import { HEALTH_STATUS } from '../domain/health.ts';
import { resolveHealth } from '../resolvers/health.ts';
import { builder } from './builder.ts';

const HealthStatusRef = builder.enumType('HealthStatus', { values: Object.values(HEALTH_STATUS) });

const DependencyHealthRef = builder.objectRef<DependencyHealth>('DependencyHealth').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    status: t.field({ type: HealthStatusRef, resolve: (dependency) => dependency.status }),
    latencyMs: t.exposeFloat('latencyMs', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

const HealthRef = builder.objectRef<HealthReport>('Health').implement({
  fields: (t) => ({
    status: t.field({ type: HealthStatusRef, resolve: (report) => report.status }),
    version: t.exposeString('version'),
    uptimeSeconds: t.exposeFloat('uptimeSeconds'),
    dependencies: t.field({ type: [DependencyHealthRef], resolve: (report) => report.dependencies }),
  }),
});

builder.queryField('health', (t) =>
  t.field({
    type: HealthRef,
    description: 'Service status and the status of each dependency (database, broker, Kafka, Redis).',
    resolve: (_root, _args, context) => resolveHealth(context),
  }),
);
