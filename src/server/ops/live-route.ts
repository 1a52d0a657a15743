import { jsonResponse } from '../http-response.ts';
import type { HttpRoute } from '../http-routes.ts';

/**
 * GET /livez: 200 while the process answers HTTP at all, whatever its dependencies do. A liveness
 * probe uses this, not /health: restarting a server because Postgres or the broker is away would
 * not bring them back (readiness on /health takes it out of the load balancer instead).
 */
export function liveRoute(): HttpRoute {
  return {
    methods: ['GET', 'HEAD'],
    path: '/livez',
    async handle() {
      return jsonResponse({ status: 'ok' });
    },
  };
}
