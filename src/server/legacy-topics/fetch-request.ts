import type { IncomingMessage } from 'node:http';

/** The upgrade request as a Fetch Request, for the operations the connection runs (Query.topics). */
export function toFetchRequest(incoming: IncomingMessage): Request {
  // The Host header is the client's to write: one that is no valid host must not fail the socket.
  const url =
    URL.parse(incoming.url ?? '/', `http://${incoming.headers.host ?? 'localhost'}`) ??
    new URL(pathOf(incoming.url), 'http://localhost');
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return new Request(url, { headers });
}

/** The path of a request target that did not parse against its Host: what a router saw. */
function pathOf(target: string | undefined): string {
  return URL.parse(target ?? '/', 'http://localhost')?.pathname ?? '/';
}
