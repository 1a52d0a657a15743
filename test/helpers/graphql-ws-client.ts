import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { AsyncQueue } from './async-queue.ts';

export interface WsResult {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
}

/** One subscription over a real graphql-ws client: results, errors and completion as queues. */
export interface WsSubscription {
  readonly results: AsyncQueue<WsResult>;
  /** Resolves when the server completes the subscription; rejects on an error or a close. */
  readonly done: Promise<void>;
  unsubscribe(): void;
}

/** A real graphql-ws client over `ws`; `closes` receives each close event's code. */
export function connectWs(
  url: string,
  options: { connectionParams?: Record<string, unknown>; retryAttempts?: number } = {},
): { client: Client; closes: AsyncQueue<{ code: number; reason: string }> } {
  const closes = new AsyncQueue<{ code: number; reason: string }>();
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: options.retryAttempts ?? 0,
    lazy: false,
    // The default prints the close event to stderr; tests read `closes` instead.
    onNonLazyError: () => undefined,
    connectionParams: options.connectionParams,
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        closes.push({ code, reason: String(reason) });
      },
    },
  });
  return { client, closes };
}

export function subscribeWs(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
): WsSubscription {
  const results = new AsyncQueue<WsResult>();
  let unsubscribe = () => {};
  const done = new Promise<void>((resolve, reject) => {
    unsubscribe = client.subscribe(
      { query, variables },
      {
        next: (result) => results.push(result as WsResult),
        error: (error) => {
          const failure = error instanceof Error ? error : new Error(JSON.stringify(error));
          results.fail(failure);
          reject(error);
        },
        complete: () => resolve(),
      },
    );
  });
  done.catch(() => undefined); // callers that only read results should not see an unhandled rejection
  return { results, done, unsubscribe };
}

/**
 * A `ws` WebSocket class for graphql-ws's `webSocketImpl` that keeps every socket it opens in
 * `sockets`: a test can then pause one (a client that stops reading) and resume it.
 */
export function capturingWebSocket(): {
  WebSocketImpl: new (...args: ConstructorParameters<typeof WebSocket>) => WebSocket;
  sockets: WebSocket[];
} {
  const sockets: WebSocket[] = [];
  class CapturedWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      sockets.push(this);
    }
  }
  return { WebSocketImpl: CapturedWebSocket, sockets };
}
