import type { Metrics } from '../../metrics.ts';
import type { HttpRoute } from '../http-routes.ts';

/** GET /metrics: the Prometheus text format of this instance's registry. */
export function metricsRoute(metrics: Metrics): HttpRoute {
  return {
    methods: ['GET'],
    path: '/metrics',
    async handle() {
      return new Response(await metrics.registry.metrics(), {
        headers: { 'content-type': metrics.registry.contentType },
      });
    },
  };
}
