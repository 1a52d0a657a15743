import type { EnvReader } from './env-reader.ts';

/** The NATS backend (BROKER=nats). */
export interface NatsBrokerConfig {
  /** @default "nats://127.0.0.1:4222" (NATS_URL; `user:password@` or `token@` in it authenticate) */
  readonly natsUrl: string;
  /** Where JetStream keeps the retained windows: `file` survives a NATS restart. @default "file" (NATS_RETAIN_STORAGE) */
  readonly natsRetainStorage: 'file' | 'memory';
}

export function readNatsBrokerConfig(read: EnvReader): NatsBrokerConfig {
  return {
    natsUrl: read.url('NATS_URL', ['nats', 'tls', 'ws', 'wss']) ?? 'nats://127.0.0.1:4222',
    natsRetainStorage: read.oneOf('NATS_RETAIN_STORAGE', ['file', 'memory'] as const, 'file'),
  };
}
