import type { Plugin } from 'graphql-yoga';

/** Path parameters of a matched route, e.g. { device: "d1" } for /monitor/:device. */
export type RouteParams = Readonly<Record<string, string>>;

/** A plain HTTP endpoint beside /graphql: /health, /stats, /metrics, /monitor/:device, … */
export interface HttpRoute {
  readonly methods: readonly string[] | '*';
  /** A path with `:name` parameters, e.g. "/monitor/:device". */
  readonly path: string;
  handle(request: Request, params: RouteParams): Promise<Response> | Response;
}

interface CompiledRoute {
  readonly route: HttpRoute;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

function compile(route: HttpRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(segment.slice(1));
      return '([^/]*)';
    })
    .join('/');
  return { route, pattern: new RegExp(`^${source}/?$`), names };
}

/**
 * Serves the plain HTTP routes inside yoga, so that they run in-process through `yoga.fetch`
 * in tests exactly as they do behind the Node server.
 */
export function useHttpRoutes(routes: readonly HttpRoute[]): Plugin {
  const compiled = routes.map(compile);
  return {
    async onRequest({ request, url, endResponse }) {
      for (const { route, pattern, names } of compiled) {
        const match = pattern.exec(url.pathname);
        if (!match) continue;
        if (route.methods !== '*' && !route.methods.includes(request.method)) {
          endResponse(
            Response.json(
              { error: 'METHOD_NOT_ALLOWED', message: `${request.method} is not allowed on ${url.pathname}` },
              { status: 405, headers: { allow: route.methods.join(', ') } },
            ),
          );
          return;
        }
        const params = Object.fromEntries(
          names.map((name, index) => [name, decodeURIComponent(match[index + 1] ?? '')]),
        );
        endResponse(await route.handle(request, params));
        return;
      }
    },
  };
}
