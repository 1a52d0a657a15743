import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../../metrics.ts';

/**
 * Counts HTTP requests and their latency (until the response head) by method, route and status.
 * The route label is the declared path of a known endpoint, never the raw URL, so that a client
 * cannot grow the number of series by requesting random paths.
 */
export function useHttpMetrics(metrics: Metrics, knownPaths: readonly string[]): Plugin {
  const requests = metrics.counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'],
  });
  const duration = metrics.histogram({
    name: 'http_request_duration_seconds',
    help: 'Time until the response head, by method and route.',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const patterns = knownPaths.map((path) => ({
    path,
    pattern: new RegExp(
      `^${path
        .split('/')
        .map((segment) =>
          segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('/')}/?$`,
    ),
  }));
  const routeOf = (pathname: string) =>
    patterns.find(({ pattern }) => pattern.test(pathname))?.path ?? 'other';
  // The route is named in onRequest from the URL the server adapter parsed already; a request
  // answered before this hook ran (e.g. a CORS preflight) is named from its own URL in onResponse.
  const seen = new WeakMap<Request, { readonly start: number; readonly route: string }>();

  return {
    onRequest({ request, url }) {
      seen.set(request, { start: performance.now(), route: routeOf(url.pathname) });
    },
    onResponse({ request, response }) {
      const entry = seen.get(request);
      const route = entry?.route ?? routeOf(new URL(request.url).pathname);
      const method = request.method;
      requests.inc({ method, route, status: String(response.status) });
      if (entry !== undefined) duration.observe({ method, route }, (performance.now() - entry.start) / 1000);
    },
  };
}
