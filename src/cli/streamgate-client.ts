import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { CliError } from './cli-errors.ts';

/** Where the server is and who the caller is: `--server`/STREAMGATE_URL, `--token`/STREAMGATE_TOKEN. */
export interface ServerOptions {
  readonly server: string;
  readonly token?: string | undefined;
}

/** A typed document from src/cli/gql (codegen, documentMode "string"). */
export type TypedDocument<Result, Variables> = DocumentTypeDecoration<Result, Variables> & {
  toString(): string;
};

interface GraphQLErrorShape {
  readonly message: string;
  readonly extensions?: { readonly code?: unknown };
}

/** One streamgate server as the CLI sees it: GraphQL over HTTP, graphql-ws, the monitor route. */
export interface StreamgateClient {
  readonly server: string;
  /** Runs a query or mutation; GraphQL errors and transport failures become CliErrors. */
  request<Result, Variables>(
    document: TypedDocument<Result, Variables>,
    variables: Variables,
  ): Promise<Result>;
  /** Subscribes over graphql-ws; the iterable ends when the server completes the subscription. */
  subscribe<Result, Variables>(
    document: TypedDocument<Result, Variables>,
    variables: Variables,
  ): AsyncIterableIterator<Result>;
  /** POSTs monitor events to `/monitor/{deviceId}`; resolves with the number accepted. */
  postMonitor(deviceId: string, events: readonly unknown[]): Promise<number>;
  /** Closes the graphql-ws connection, if one was opened. */
  close(): Promise<void>;
}

/** Creates a client; nothing is opened until the first call. */
export function createStreamgateClient(options: ServerOptions): StreamgateClient {
  const server = options.server.replace(/\/+$/, '');
  const authorization = options.token ? `Bearer ${options.token}` : undefined;
  let ws: Client | undefined;

  async function post(path: string, body: string, contentType: string): Promise<Response> {
    try {
      return await fetch(`${server}${path}`, {
        method: 'POST',
        headers: {
          'content-type': contentType,
          accept: 'application/graphql-response+json, application/json',
          ...(authorization ? { authorization } : {}),
        },
        body,
      });
    } catch (error) {
      throw unreachable(server, error);
    }
  }

  function wsClient(): Client {
    ws ??= createClient({
      url: `${server.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: authorization ? { authorization } : {},
      // A CLI run is one attempt: a lost connection is an error, not a silent reconnect loop.
      retryAttempts: 0,
      lazy: true,
    });
    return ws;
  }

  return {
    server,
    async request(document, variables) {
      const response = await post(
        '/graphql',
        JSON.stringify({ query: String(document), variables }),
        'application/json',
      );
      const body = await readJson(response);
      const result = body as { data?: unknown; errors?: readonly GraphQLErrorShape[] } | undefined;
      if (result?.errors?.length) throw graphqlError(result.errors);
      if (!response.ok || result?.data == null) {
        throw new CliError(`the server answered HTTP ${response.status} without data`);
      }
      return result.data as never;
    },
    subscribe(document, variables) {
      const iterator = wsClient().iterate({
        query: String(document),
        variables: variables as Record<string, unknown>,
      });
      return {
        [Symbol.asyncIterator]() {
          return this;
        },
        async next() {
          let step: IteratorResult<{ data?: unknown; errors?: readonly GraphQLErrorShape[] }>;
          try {
            step = await iterator.next();
          } catch (error) {
            throw subscriptionError(server, error);
          }
          if (step.done) return { done: true, value: undefined };
          if (step.value.errors?.length) throw graphqlError(step.value.errors);
          return { done: false, value: step.value.data as never };
        },
        async return() {
          await iterator.return?.();
          return { done: true, value: undefined };
        },
      };
    },
    async postMonitor(deviceId, events) {
      const response = await post(
        `/monitor/${encodeURIComponent(deviceId)}`,
        JSON.stringify(events),
        'application/json',
      );
      const body = (await readJson(response)) as { accepted?: unknown; error?: unknown; message?: unknown };
      if (!response.ok) {
        const reason = [body?.error, body?.message].filter((part) => typeof part === 'string').join(': ');
        throw new CliError(
          `POST /monitor/${deviceId} failed with HTTP ${response.status}${reason ? `: ${reason}` : ''}`,
        );
      }
      return typeof body?.accepted === 'number' ? body.accepted : events.length;
    },
    async close() {
      await ws?.dispose();
    },
  };
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(
      `the server answered HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
    );
  }
}

function graphqlError(errors: readonly GraphQLErrorShape[]): CliError {
  const [first] = errors;
  const code = typeof first?.extensions?.code === 'string' ? ` (${first.extensions.code})` : '';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more errors)` : '';
  return new CliError(`${first?.message ?? 'unknown error'}${code}${more}`);
}

function unreachable(server: string, error: unknown): CliError {
  // fetch says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, ...) is in the cause.
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const reason =
    cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : String(cause);
  return new CliError(`cannot reach streamgate at ${server}: ${reason}`, { cause: error });
}

function subscriptionError(server: string, error: unknown): CliError {
  if (Array.isArray(error)) return graphqlError(error as GraphQLErrorShape[]);
  if (error instanceof Error) return unreachable(server, error);
  // ws hands graphql-ws an ErrorEvent ({ error, message }) when the socket cannot connect, and a
  // CloseEvent ({ code, reason }) when it closes before the subscription ends.
  const event = error as { error?: unknown; message?: unknown; code?: unknown; reason?: unknown } | undefined;
  if (event?.error instanceof Error) return unreachable(server, event.error);
  if (typeof event?.message === 'string') return unreachable(server, new Error(event.message));
  const close = event;
  if (typeof close?.code === 'number') {
    const reason = typeof close.reason === 'string' && close.reason ? `: ${close.reason}` : '';
    return new CliError(`the connection to ${server} closed with code ${close.code}${reason}`);
  }
  return new CliError(`subscription failed: ${String(error)}`);
}
