import type { Provider } from './provider.ts';

interface DataSourceProviders {
  readonly providers: Provider[];
  /** Where the round robin among equally busy providers starts next time. */
  next: number;
}

/** The providers connected to this instance, per data source. */
export interface ProviderRegistry {
  add(provider: Provider): void;
  /** Removes it; returns how many providers of its data source remain. */
  remove(provider: Provider): number;
  count(dataSourceId: string): number;
  /**
   * The least busy provider not in `exclude`; among equally busy ones, the next in turn, so that
   * idle providers share requests round robin.
   */
  pick(dataSourceId: string, exclude: ReadonlySet<string>): Provider | undefined;
  /** Every data source that has a provider here. */
  dataSourceIds(): string[];
}

export function createProviderRegistry(): ProviderRegistry {
  const byDataSource = new Map<string, DataSourceProviders>();

  return {
    add(provider) {
      let entry = byDataSource.get(provider.dataSourceId);
      if (!entry) {
        entry = { providers: [], next: 0 };
        byDataSource.set(provider.dataSourceId, entry);
      }
      entry.providers.push(provider);
    },

    remove(provider) {
      const entry = byDataSource.get(provider.dataSourceId);
      if (!entry) return 0;
      const index = entry.providers.indexOf(provider);
      if (index >= 0) entry.providers.splice(index, 1);
      if (entry.providers.length === 0) byDataSource.delete(provider.dataSourceId);
      return entry.providers.length;
    },

    count: (dataSourceId) => byDataSource.get(dataSourceId)?.providers.length ?? 0,

    pick(dataSourceId, exclude) {
      const entry = byDataSource.get(dataSourceId);
      if (!entry) return undefined;
      const { providers } = entry;
      let best: Provider | undefined;
      let bestIndex = 0;
      for (let offset = 0; offset < providers.length; offset++) {
        const index = (entry.next + offset) % providers.length;
        const candidate = providers[index] as Provider;
        if (exclude.has(candidate.id)) continue;
        if (best === undefined || candidate.inFlight < best.inFlight) {
          best = candidate;
          bestIndex = index;
        }
      }
      if (best) entry.next = (bestIndex + 1) % providers.length;
      return best;
    },

    dataSourceIds: () => [...byDataSource.keys()],
  };
}
