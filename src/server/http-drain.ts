import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/** What a request that arrives while the server drains is told. */
const DRAINING_BODY = JSON.stringify({
  error: 'UNAVAILABLE',
  message: 'the server is shutting down; send the request again (to another instance)',
});

/**
 * The HTTP request listener with a drain switch: once `isDraining()` is true, every new request
 * (including one on a kept-alive connection, which `server.close()` does not stop) is answered
 * 503 with `Connection: close` and `Retry-After`, so no client can keep a draining server busy.
 * Requests already being handled finish normally.
 */
export function drainingListener(handler: RequestListener, isDraining: () => boolean): RequestListener {
  return (request: IncomingMessage, response: ServerResponse) => {
    if (!isDraining()) {
      handler(request, response);
      return;
    }
    // The body is not read: Connection: close ends the socket after the answer anyway.
    response.writeHead(503, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(DRAINING_BODY),
      'retry-after': '1',
      connection: 'close',
    });
    response.end(DRAINING_BODY);
  };
}
