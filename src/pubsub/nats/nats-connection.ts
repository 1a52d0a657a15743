import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ConnectionHealth, reconnectDelayMs } from '../connection-health.ts';
import { BrokerUnavailableError } from '../errors.ts';
import { redactUrl } from '../redact-url.ts';

export interface NatsConnectionOptions {
  readonly url: string;
  /** Shown by the server in its connection list. */
  readonly name: string;
  readonly connectTimeoutMs: number;
  readonly reconnectMaxWaitMs: number;
}

/** A NATS connection that reconnects forever, and its health as a BrokerHealth. */
export interface TrackedNatsConnection {
  readonly nc: NatsConnection;
  readonly health: ConnectionHealth;
  /**
   * Calls `listener` each time the connection is back after a loss; returns the unsubscribe.
   * Core subscriptions come back by themselves; JetStream consumers may be gone (a server
   * that was killed forgets its ephemeral consumers), so their readers start over here.
   */
  onReconnect(listener: () => void): () => void;
}

/**
 * Connects to NATS, retrying until `connectTimeoutMs`; afterwards the client reconnects forever
 * with a doubling delay, resubscribing its core subscriptions by itself.
 */
export async function connectNats(options: NatsConnectionOptions): Promise<TrackedNatsConnection> {
  const health = new ConnectionHealth();
  const deadline = Date.now() + options.connectTimeoutMs;
  const { server, credentials } = natsServerAndCredentials(options.url);
  let nc: NatsConnection | undefined;
  for (let attempt = 1; nc === undefined; attempt++) {
    try {
      nc = await connect({
        servers: server,
        ...credentials,
        name: options.name,
        maxReconnectAttempts: -1,
        reconnect: true,
        // The client asks before each dial; the attempt count comes from its status events.
        reconnectDelayHandler: () => reconnectDelayMs(health.attempt, options.reconnectMaxWaitMs),
        timeout: Math.max(1_000, Math.min(5_000, deadline - Date.now())),
      });
    } catch (error) {
      if (Date.now() + reconnectDelayMs(attempt, options.reconnectMaxWaitMs) > deadline) {
        throw new BrokerUnavailableError(
          `cannot reach NATS at ${redactUrl(server)} within ${options.connectTimeoutMs} ms: ${(error as Error).message}`,
          { cause: error },
        );
      }
      await new Promise((resolve) =>
        setTimeout(resolve, reconnectDelayMs(attempt, options.reconnectMaxWaitMs)),
      );
    }
  }
  const reconnectListeners = new Set<() => void>();
  void followStatus(nc, health, () => {
    for (const listener of [...reconnectListeners]) listener();
  });
  nc.closed().then(
    (error) => health.closed(error ?? undefined),
    (error: unknown) => health.closed(error),
  );
  return {
    nc,
    health,
    onReconnect: (listener) => {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },
  };
}

/** What a NATS URL's userinfo says, as nats.js's options take it. */
export interface NatsCredentials {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
}

/**
 * The server of a NATS URL and the credentials in it, read as the NATS tools read them (nats CLI,
 * nats.go): `nats://user:password@host:4222` is a user and password, `nats://token@host:4222` a
 * token, both percent-decoded. nats.js v3 ignores a URL's userinfo (the server then answers
 * "Authorization Violation"), so they go to it as options, and the URL without them.
 */
export function natsServerAndCredentials(url: string): { server: string; credentials: NatsCredentials } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { server: url, credentials: {} };
  }
  if (parsed.username === '') return { server: url, credentials: {} };
  const user = decodeURIComponent(parsed.username);
  const pass = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  return { server: parsed.toString(), credentials: pass === '' ? { token: user } : { user, pass } };
}

async function followStatus(
  nc: NatsConnection,
  health: ConnectionHealth,
  reconnected: () => void,
): Promise<void> {
  for await (const status of nc.status()) {
    switch (status.type) {
      case 'disconnect':
        health.lost(new Error(`disconnected from ${status.server}`));
        break;
      case 'reconnecting':
        health.attempting();
        break;
      case 'reconnect':
        health.connected();
        reconnected();
        break;
      case 'error':
        health.failed(status.error);
        break;
      default:
        break;
    }
  }
}
