import { BadUserInputError, NotFoundError } from '../../errors.ts';
import { type ParsedSelector, parseSelector, SELECTOR_KIND, selectorMatches } from './selector.ts';

/** Where a route came from: the routing file (reloaded at start-up) or setRoute. */
export const ROUTE_ORIGIN = { FILE: 'file', API: 'api' } as const;
export type RouteOrigin = (typeof ROUTE_ORIGIN)[keyof typeof ROUTE_ORIGIN];

/** One route of the state router, as the routes table holds it. */
export interface Route {
  readonly id: string;
  readonly selector: string;
  readonly subject: string;
  readonly name: string | null;
  readonly url: string | null;
  readonly queue: string | null;
  readonly origin: RouteOrigin;
  readonly createdAt: Date;
}

/** Several wildcard selectors match one key and none matches it exactly (legacy.md B). */
export class AmbiguousRouteError extends BadUserInputError {
  constructor(key: string, routes: readonly Route[]) {
    super(
      `"${key}" matches ${routes.length} routes and none exactly: ${routes
        .map((route) => `"${route.selector}" (${route.id})`)
        .join(', ')}`,
      { details: { key, routes: routes.map((route) => route.id) } },
    );
  }
}

/** The routing table in memory, selectors parsed once. */
export class RoutingTable {
  private readonly parsed: ReadonlyArray<{ readonly route: Route; readonly selector: ParsedSelector }>;

  constructor(readonly routes: readonly Route[]) {
    this.parsed = routes.map((route) => ({ route, selector: parseSelector(route.selector) }));
  }

  /** Every route whose selector matches the key: where a state's entries are forwarded. */
  matching(key: string): Route[] {
    return this.parsed.filter(({ selector }) => selectorMatches(selector, key)).map(({ route }) => route);
  }

  /**
   * The one route for a key, by the legacy lookup: a route whose id is the key, else an exact
   * selector match, else the single wildcard match; several matches at the deciding step are an
   * error naming them; none is NOT_FOUND.
   */
  resolve(key: string): Route {
    const byId = this.routes.find((route) => route.id === key);
    if (byId) return byId;
    const matches = this.parsed.filter(({ selector }) => selectorMatches(selector, key));
    const exact = matches.filter(({ selector }) => selector.kind === SELECTOR_KIND.EXACT);
    const deciding = exact.length > 0 ? exact : matches;
    const [only, ...more] = deciding;
    if (!only) throw new NotFoundError('route', key);
    if (more.length > 0)
      throw new AmbiguousRouteError(
        key,
        deciding.map(({ route }) => route),
      );
    return only.route;
  }
}
