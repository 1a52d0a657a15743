import type { Plugin } from 'graphql-yoga';
import { type Logger, newCorrelationId } from '../log.ts';
import { jsonResponse } from './http-response.ts';

/** Path parameters of a matched route, e.g. { device: "d1" } for /monitor/:device. */
export type RouteParams = Readonly<Record<string, string>>;

/**
 * The path parameters of a route match, percent-decoded; undefined when one holds a malformed
 * escape (`%E0%A4%A`, `%ZZ`, a lone `%`), which the caller answers with 400.
 */
export function decodeRouteParams(names: readonly string[], match: RegExpExecArray): RouteParams | undefined {
  const params: Record<string, string> = {};
  for (const [index, name] of names.entries()) {
    try {
      params[name] = decodeURIComponent(match[index + 1] ?? '');
    } catch {
      return undefined;
    }
  }
  return params;
}

/** The 400 answer for a path that holds a malformed percent-escape. */
export const MALFORMED_PATH_MESSAGE = 'the path holds a malformed percent-escape';

/** A plain HTTP endpoint beside /graphql: /health, /stats, /metrics, /monitor/:device, … */
export interface HttpRoute {
  readonly methods: readonly string[] | '*';
  /** A path with `:name` parameters, e.g. "/monitor/:device". */
  readonly path: string;
  /**
   * `serverContext`: yoga's server context; behind the Node server it holds the Node response
   * (`res`), which a streaming route watches to learn that its client went away. `url`: the
   * request's URL as the server adapter parsed it already (for its query), not to be changed.
   */
  handle(
    request: Request,
    params: RouteParams,
    serverContext: Readonly<Record<string, unknown>>,
    url: URL,
  ): Promise<Response> | Response;
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
export function useHttpRoutes(routes: readonly HttpRoute[], log: Logger): Plugin {
  const compiled = routes.map(compile);
  return {
    async onRequest({ request, url, endResponse, serverContext }) {
      for (const { route, pattern, names } of compiled) {
        const match = pattern.exec(url.pathname);
        if (!match) continue;
        if (route.methods !== '*' && !route.methods.includes(request.method)) {
          endResponse(
            jsonResponse(
              { error: 'METHOD_NOT_ALLOWED', message: `${request.method} is not allowed on ${url.pathname}` },
              { status: 405, headers: { allow: route.methods.join(', ') } },
            ),
          );
          return;
        }
        const params = decodeRouteParams(names, match);
        if (params === undefined) {
          endResponse(
            jsonResponse({ error: 'BAD_USER_INPUT', message: MALFORMED_PATH_MESSAGE }, { status: 400 }),
          );
          return;
        }
        endResponse(await answer(route, request, params, serverContext as Record<string, unknown>, url, log));
        return;
      }
    },
  };
}

/**
 * Runs a route's handler; an error it throws is logged with a correlation id and answered with a
 * plain 500 INTERNAL, because yoga's server adapter would otherwise put the stack in the body.
 */
async function answer(
  route: HttpRoute,
  request: Request,
  params: RouteParams,
  serverContext: Readonly<Record<string, unknown>>,
  url: URL,
  log: Logger,
): Promise<Response> {
  try {
    return await route.handle(request, params, serverContext, url);
  } catch (error) {
    const correlationId = newCorrelationId();
    log.error({ err: error, correlationId, route: route.path }, 'HTTP route failed');
    return jsonResponse({ error: 'INTERNAL', message: 'internal error', correlationId }, { status: 500 });
  }
}
