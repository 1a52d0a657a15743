/**
 * Which load client reads the fan-out benchmark's subscribers: BENCH_CLIENT=go (default when a
 * `go` binary is found: bench/support/go-load-client.ts) or node (bench/support/lean-ws-client.ts
 * in the bench process). SSE subscribers are always read by the Node client.
 */
import { buildGoClient, findGo, openGoSubscribers } from './go-load-client.ts';
import {
  type DeliveryTracker,
  openSubscribers,
  type Subscriber,
  type SubscriberSpec,
} from './ws-subscribers.ts';

export type LoadClient = { readonly kind: 'go'; readonly binary: string } | { readonly kind: 'node' };

/**
 * The client BENCH_CLIENT asks for, built if it is Go. Without BENCH_CLIENT, Go when a `go` binary
 * is found and builds, else Node with `note` saying why (print it: the table's figures depend on it).
 */
export function chooseLoadClient(): { client: LoadClient; note?: string } {
  const asked = process.env.BENCH_CLIENT;
  if (asked === 'node') return { client: { kind: 'node' } };
  if (asked !== undefined && asked !== 'go') throw new Error(`BENCH_CLIENT=${asked}: go or node`);
  const go = findGo();
  if (!go) {
    if (asked === 'go') throw new Error('BENCH_CLIENT=go, but no go binary on PATH or in /usr/local/go/bin');
    return {
      client: { kind: 'node' },
      note: 'load client: node (no go binary on PATH or in /usr/local/go/bin; BENCH_CLIENT=node to silence this)',
    };
  }
  try {
    return { client: { kind: 'go', binary: buildGoClient(go) } };
  } catch (error) {
    if (asked === 'go') throw error;
    const stderr = (error as { stderr?: Buffer }).stderr?.toString('utf8').trim() ?? String(error);
    return { client: { kind: 'node' }, note: `load client: node (the Go client did not build: ${stderr})` };
  }
}

const SOCKET_KINDS = new Set<SubscriberSpec['kind']>(['graphql-ws', 'raw', 'legacy-ws']);

/** Opens the subscribers with `client` when it can read them all (WebSocket kinds), else with Node's. */
export async function openLoadClientSubscribers(
  client: LoadClient,
  specs: readonly SubscriberSpec[],
  tracker: DeliveryTracker,
): Promise<{ subscribers: Subscriber[]; reader: LoadClient['kind'] }> {
  if (client.kind === 'go' && specs.every((spec) => SOCKET_KINDS.has(spec.kind)))
    return { subscribers: [await openGoSubscribers(client.binary, specs, tracker)], reader: 'go' };
  return { subscribers: await openSubscribers(specs, tracker), reader: 'node' };
}
