/**
 * The wire details of the graphql-sse protocol (graphql-sse 2.x: its PROTOCOL.md and the answers
 * of its own `createHandler`), kept byte for byte so that graphql-sse's client, and anything
 * written against graphql-sse's server, sees no difference.
 */

/** Where a single-connection client names its reserved stream (or `?token=`). */
export const STREAM_TOKEN_HEADER = 'x-graphql-event-stream-token';
const STREAM_TOKEN_QUERY = 'token';

/** The headers of an event stream, as graphql-sse sends them. */
export const EVENT_STREAM_HEADERS = {
  connection: 'keep-alive',
  'cache-control': 'no-cache',
  'content-encoding': 'none',
  'content-type': 'text/event-stream; charset=utf-8',
} as const;

/** An operation as the protocol carries it (`extensions.operationId` in single-connection mode). */
export interface GraphqlSseParams {
  readonly query: string;
  readonly operationName?: string | null;
  readonly variables?: Record<string, unknown> | null;
  readonly extensions?: Record<string, unknown> | null;
}

/** The reserved stream a request names, if it names one. */
export function streamTokenOf(request: Request, url: URL): string | null {
  return request.headers.get(STREAM_TOKEN_HEADER) || url.searchParams.get(STREAM_TOKEN_QUERY) || null;
}

/** graphql-sse compares the Accept header as a whole string; absent is `*` / `*`. */
export function acceptOf(request: Request): string {
  return request.headers.get('accept') || '*/*';
}

/** A refusal with graphql-sse's body: `{"errors":[{"message":…}]}` as JSON. */
export function protocolError(status: number, statusText: string, message: string): Response {
  return new Response(JSON.stringify({ errors: [{ message }] }), {
    status,
    statusText,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/** An answer without a body (202 Accepted, 405, 406, …). */
export function emptyAnswer(status: number, statusText: string, headers?: Record<string, string>): Response {
  return new Response(null, { status, statusText, headers });
}

/**
 * The operation of a request: the URL's parameters on `GET`, the JSON body on `POST`; anything
 * else is 415, a malformed one 400 with the reason, as graphql-sse answers them.
 */
export async function readParams(request: Request, url: URL): Promise<GraphqlSseParams | Response> {
  let params: Record<string, unknown>;
  try {
    if (request.method === 'GET') params = paramsOfUrl(url);
    else if (request.method === 'POST' && request.headers.get('content-type')?.includes('application/json')) {
      const data: unknown = JSON.parse(await request.text());
      if (typeof data !== 'object' || data === null || Array.isArray(data))
        throw new Error('JSON body must be an object');
      const body = data as Record<string, unknown>;
      params = {
        operationName: body.operationName,
        query: body.query,
        variables: body.variables,
        extensions: body.extensions,
      };
    } else return emptyAnswer(415, 'Unsupported Media Type');
    if (params.query == null) throw new Error('Missing query');
    if (typeof params.query !== 'string') throw new Error('Invalid query');
    if (params.variables != null && !isPlainObject(params.variables)) throw new Error('Invalid variables');
    if (params.extensions != null && !isPlainObject(params.extensions)) throw new Error('Invalid extensions');
  } catch (error) {
    return protocolError(400, 'Bad Request', error instanceof Error ? error.message : String(error));
  }
  return params as unknown as GraphqlSseParams;
}

function paramsOfUrl(url: URL): Record<string, unknown> {
  try {
    const search = url.searchParams;
    const variables = search.get('variables');
    const extensions = search.get('extensions');
    return {
      operationName: search.get('operationName') ?? undefined,
      query: search.get('query') ?? undefined,
      variables: variables ? JSON.parse(variables) : undefined,
      extensions: extensions ? JSON.parse(extensions) : undefined,
    };
  } catch {
    throw new Error('Unparsable URL');
  }
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && !Array.isArray(value);
}
