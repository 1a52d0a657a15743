import { type DataSourceRef, dataSourceKey, dataSourceOf, type Provider } from './provider.ts';

interface DataSourceProviders {
  readonly providers: Provider[];
  /** Where the round robin among equally busy providers starts next time. */
  next: number;
}

/** The providers connected to this instance, per data source of a tenant. */
export interface ProviderRegistry {
  add(provider: Provider): void;
  /** Removes it; returns how many providers of its data source remain. */
  remove(provider: Provider): number;
  count(dataSource: DataSourceRef): number;
  /**
   * The least busy provider not in `exclude`; among equally busy ones, the next in turn, so that
   * idle providers share requests round robin.
   */
  pick(dataSource: DataSourceRef, exclude: ReadonlySet<string>): Provider | undefined;
}

export function createProviderRegistry(): ProviderRegistry {
  const byDataSource = new Map<string, DataSourceProviders>();

  return {
    add(provider) {
      const key = dataSourceKey(dataSourceOf(provider));
      let entry = byDataSource.get(key);
      if (!entry) {
        entry = { providers: [], next: 0 };
        byDataSource.set(key, entry);
      }
      entry.providers.push(provider);
    },

    remove(provider) {
      const key = dataSourceKey(dataSourceOf(provider));
      const entry = byDataSource.get(key);
      if (!entry) return 0;
      const index = entry.providers.indexOf(provider);
      if (index >= 0) entry.providers.splice(index, 1);
      if (entry.providers.length === 0) byDataSource.delete(key);
      return entry.providers.length;
    },

    count: (dataSource) => byDataSource.get(dataSourceKey(dataSource))?.providers.length ?? 0,

    pick(dataSource, exclude) {
      const entry = byDataSource.get(dataSourceKey(dataSource));
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
  };
}
