import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * GraphiQL as yoga serves it at /graphql to a browser, with its JavaScript, CSS and editor
 * workers inlined from `@graphql-yoga/render-graphiql`: yoga's default page loads them from a
 * public CDN and stays at "Loading…" on a machine without internet access.
 *
 * Subscriptions go over graphql-ws; GraphiQL sends the Headers tab inside each `subscribe`
 * message (`payload.extensions.headers`), which graphql-ws.ts verifies like any other token.
 */
export const GRAPHIQL_OPTIONS: GraphiQLOptions = { title: 'streamgate', subscriptionsProtocol: 'WS' };

/**
 * Renders the page once per distinct options (yoga passes a fresh copy on every request): it is
 * 9 MB of inlined assets, not worth rebuilding per request.
 */
export function createGraphiqlRenderer(): (options: GraphiQLOptions) => string {
  const pages = new Map<string, string>();
  return (options) => {
    const key = JSON.stringify(options);
    let page = pages.get(key);
    if (page === undefined) {
      page = renderGraphiQL(options);
      pages.set(key, page);
    }
    return page;
  };
}
