import type { EnvReader } from './env-reader.ts';

/** Data sources: request/reply between requesters and connected providers (docs/datasources.md). */
export interface DataSourcesConfig {
  /**
   * How long one provider may take to answer a request before it is skipped and the next
   * provider is tried (once). @default 5s (DATASOURCE_PROVIDER_TIMEOUT)
   */
  readonly providerTimeoutMs: number;
  /** Largest `timeoutMs` that queryDataSource accepts. @default 60s (DATASOURCE_MAX_TIMEOUT) */
  readonly maxTimeoutMs: number;
  /**
   * Ping interval of the legacy /ws/ds sockets; a provider that has not answered the previous
   * ping by the next one is dropped. @default 30s (DATASOURCE_WS_PING_INTERVAL)
   */
  readonly pingIntervalMs: number;
}

export function readDataSourcesConfig(read: EnvReader): DataSourcesConfig {
  return {
    providerTimeoutMs: read.duration('DATASOURCE_PROVIDER_TIMEOUT', 5_000),
    maxTimeoutMs: read.duration('DATASOURCE_MAX_TIMEOUT', 60_000),
    pingIntervalMs: read.duration('DATASOURCE_WS_PING_INTERVAL', 30_000),
  };
}

/** Every data-source duration must be above zero; runs after every other section is read. */
export function checkDataSourcesConfig(read: EnvReader, dataSources: DataSourcesConfig): void {
  for (const [variable, ms] of [
    ['DATASOURCE_PROVIDER_TIMEOUT', dataSources.providerTimeoutMs],
    ['DATASOURCE_MAX_TIMEOUT', dataSources.maxTimeoutMs],
    ['DATASOURCE_WS_PING_INTERVAL', dataSources.pingIntervalMs],
  ] as const) {
    if (ms <= 0) read.report(variable, read.raw(variable) ?? '', 'a duration above zero');
  }
}
