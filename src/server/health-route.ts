import { checkHealth, HEALTH_STATUS, type HealthStatus } from '../domain/health.ts';
import type { AppServices } from '../domain/services.ts';
import { jsonResponse } from './http-response.ts';
import type { HttpRoute } from './http-routes.ts';

const LEGACY_STATUS: Record<HealthStatus, string> = {
  [HEALTH_STATUS.OK]: 'ok',
  [HEALTH_STATUS.DEGRADED]: 'degraded',
  [HEALTH_STATUS.DOWN]: 'error',
};

/** GET /health in the legacy shape (legacy.md D); 503 when a required dependency is down. */
export function healthRoute(services: AppServices): HttpRoute {
  return {
    methods: ['GET', 'HEAD'],
    path: '/health',
    async handle() {
      const report = await checkHealth(services.healthProbes, {
        version: services.config.version,
        startedAt: services.startedAt,
      });
      const body = {
        service: 'streamgate',
        status: LEGACY_STATUS[report.status],
        uptime_seconds: Math.round(report.uptimeSeconds * 1000) / 1000,
        dependencies: Object.fromEntries(
          report.dependencies.map((dep) => [dep.name, LEGACY_STATUS[dep.status]]),
        ),
        version: report.version,
        commit: services.config.commit,
      };
      return jsonResponse(body, { status: report.status === HEALTH_STATUS.DOWN ? 503 : 200 });
    },
  };
}
