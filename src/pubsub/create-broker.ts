import type { Config } from '../config.ts';
import type { Broker } from './broker.ts';
import { createMemoryBroker } from './memory-broker.ts';

/** The broker the config names. The real backends arrive with their own adapters. */
export async function createBroker(config: Pick<Config, 'broker'>): Promise<Broker> {
  switch (config.broker.kind) {
    case 'memory':
      return createMemoryBroker();
    default:
      throw new Error(`BROKER=${config.broker.kind} is not available yet`);
  }
}
