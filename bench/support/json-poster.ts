/**
 * The benchmarks' publisher: POSTs JSON over `node:http` with keep-alive connections.
 *
 * Every latency the fan-out benchmark reports starts at the payload's `sentAt`, taken before
 * the request is built, so the publisher's own time until its bytes are on the wire counts
 * against every server alike. `fetch` (undici) spent about 0.6 ms from the call to the server's
 * receipt of a small POST on a busy core of this machine, `node:http` 0.2–0.3 ms, with a tail
 * half as long; the publisher also shares its core with the load client, which it should slow
 * as little as possible.
 */
import http from 'node:http';

/** At most this many requests in flight per server (the latency run keeps a few outstanding). */
const MAX_SOCKETS = 16;

const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });

/**
 * POSTs `body` as JSON and resolves with the parsed answer (undefined for an empty one);
 * rejects with the status and the start of the body when the answer is not 200.
 */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const answer = Buffer.concat(chunks).toString('utf8');
          if (response.statusCode !== 200) {
            reject(new Error(`${url} answered ${response.statusCode}: ${answer.slice(0, 500)}`));
            return;
          }
          try {
            resolve(answer.length > 0 ? JSON.parse(answer) : undefined);
          } catch (error) {
            reject(
              new Error(`${url} answered 200 with a body that is not JSON: ${answer.slice(0, 500)}`, {
                cause: error,
              }),
            );
          }
        });
      },
    );
    request.on('error', reject);
    request.end(text);
  });
}
