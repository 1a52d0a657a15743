import { type AuthConfig, readAuthConfig } from './auth.ts';
import { type BrokerConfig, readBrokerConfig } from './broker.ts';
import { checkDataSourcesConfig, type DataSourcesConfig, readDataSourcesConfig } from './data-sources.ts';
import { type DatabaseConfig, readDatabaseConfig } from './database.ts';
import { type DevicesConfig, readDevicesConfig } from './devices.ts';
import { ConfigError, EnvReader } from './env-reader.ts';
import { checkIsmConfig, type IsmConfig, readIsmConfig } from './ism.ts';
import { type LimitsConfig, readLimitsConfig } from './limits.ts';
import { type HttpConfig, type LogConfig, readDeployment, readHttpConfig, readLogConfig } from './server.ts';
import { readTopicsConfig, type TopicsConfig } from './topics.ts';

export { ConfigError } from './env-reader.ts';

/**
 * The one configuration object of streamgate, built from the environment at start-up.
 * Nothing else reads process.env. Every field's variable and default is listed in the README;
 * each section is read by its own file in this folder.
 */
export interface Config {
  /** Deployment name, e.g. "production"; names the Kafka consumer group. @default "development" (STREAMGATE_ENV, else NODE_ENV) */
  readonly env: string;
  /** The package version. */
  readonly version: string;
  /** The source revision, shown by /health. @default "unknown" (GIT_COMMIT) */
  readonly commit: string;
  readonly http: HttpConfig;
  readonly database: DatabaseConfig;
  /** The broker: shared settings and each backend's own (broker-*.ts). */
  readonly broker: BrokerConfig;
  readonly topics: TopicsConfig;
  readonly ism: IsmConfig;
  /** Identity and mutation roles: auth.ts, docs/auth.md. */
  readonly auth: AuthConfig;
  readonly devices: DevicesConfig;
  readonly dataSources: DataSourcesConfig;
  /** Connections, rates, documents, client buffers: limits.ts, docs/limits.md. */
  readonly limits: LimitsConfig;
  readonly log: LogConfig;
}

/** Builds the config from an environment; throws ConfigError naming every bad variable. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: { isTerminal?: boolean; version?: string } = {},
): Config {
  const read = new EnvReader(env);
  const deployment = readDeployment(read);
  const http = readHttpConfig(read);
  const config: Config = {
    env: deployment,
    version: options.version ?? '0.0.0',
    commit: read.string('GIT_COMMIT', 'unknown'),
    http,
    database: readDatabaseConfig(read),
    broker: readBrokerConfig(read),
    topics: readTopicsConfig(read, deployment),
    ism: readIsmConfig(read),
    auth: readAuthConfig(read, http.host),
    devices: readDevicesConfig(read, http.maxPayloadBytes),
    dataSources: readDataSourcesConfig(read),
    limits: readLimitsConfig(read),
    log: readLogConfig(read, options.isTerminal ?? false),
  };
  checkIsmConfig(read, config.ism);
  checkDataSourcesConfig(read, config.dataSources);
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}
