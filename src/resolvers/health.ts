import { checkHealth, type HealthReport } from '../domain/health.ts';
import type { GraphQLContext } from '../domain/resolver-context.ts';

/** Query.health: every dependency's status, folded into one. */
export function resolveHealth(context: GraphQLContext): Promise<HealthReport> {
  const { services } = context;
  return checkHealth(services.healthProbes, {
    version: services.config.version,
    startedAt: services.startedAt,
  });
}
