/**
 * JSON answers of the plain HTTP routes, built with the fetch API that yoga's server adapter
 * itself uses (@whatwg-node/fetch). The adapter writes such a response's string body to the
 * socket as it is; a Node (undici) `Response` it must read back through a web ReadableStream, a
 * pump and a promise per chunk, which cost the monitor route about a tenth of its CPU per request.
 */
import { Response as AdapterResponse } from '@whatwg-node/fetch';

/** `Response.json` on the server adapter's own Response class. */
export function jsonResponse(body: unknown, init?: ResponseInit): Response {
  return AdapterResponse.json(body, init);
}
