import { messageOf } from '../errors.ts';
import type { BrokerHealth } from './broker.ts';

const FIRST_RECONNECT_DELAY_MS = 100;

/** Delay before reconnect attempt `attempt` (1-based): doubling from 100 ms up to `maxMs`, ±20 % jitter. */
export function reconnectDelayMs(attempt: number, maxMs: number): number {
  const base = Math.min(maxMs, FIRST_RECONNECT_DELAY_MS * 2 ** Math.max(0, Math.min(attempt - 1, 20)));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * The connection state of one broker client as the BrokerHealth union, fed by the client's own
 * events. Shared by the backends so that /health reads the same on every broker.
 */
export class ConnectionHealth {
  private state: BrokerHealth = { status: 'connected' };

  get current(): BrokerHealth {
    return this.state;
  }

  /** Attempts since the connection was lost (0 while connected). */
  get attempt(): number {
    return this.state.status === 'reconnecting' ? this.state.attempt : 0;
  }

  connected(): void {
    if (this.state.status !== 'closed') this.state = { status: 'connected' };
  }

  /** The connection dropped; reconnecting starts. */
  lost(error?: unknown): void {
    if (this.state.status === 'closed') return;
    const attempt = this.state.status === 'reconnecting' ? this.state.attempt : 0;
    this.state = { status: 'reconnecting', attempt, ...describe(error, this.state) };
  }

  /** One more reconnect attempt begins. */
  attempting(error?: unknown): void {
    if (this.state.status === 'closed') return;
    const attempt = this.state.status === 'reconnecting' ? this.state.attempt + 1 : 1;
    this.state = { status: 'reconnecting', attempt, ...describe(error, this.state) };
  }

  /** The latest error while reconnecting (e.g. connection refused). */
  failed(error: unknown): void {
    if (this.state.status !== 'reconnecting') return;
    this.state = { ...this.state, ...describe(error, this.state) };
  }

  closed(error?: unknown): void {
    this.state = { status: 'closed', ...describe(error, undefined) };
  }
}

function describe(error: unknown, previous: BrokerHealth | undefined): { error?: string } {
  if (error === undefined || error === null) {
    return previous && 'error' in previous && previous.error !== undefined ? { error: previous.error } : {};
  }
  return { error: messageOf(error) };
}

/** The health of a backend with several connections: the worst of them. */
export function combineHealth(states: readonly BrokerHealth[]): BrokerHealth {
  const closed = states.find((state) => state.status === 'closed');
  if (closed) return closed;
  const reconnecting = states.filter(
    (state): state is Extract<BrokerHealth, { status: 'reconnecting' }> => state.status === 'reconnecting',
  );
  if (reconnecting.length === 0) return { status: 'connected' };
  return reconnecting.reduce((worst, state) => (state.attempt > worst.attempt ? state : worst));
}
