import { DEFAULT_SYNC_STORE_SUBJECT } from '../config/ism.ts';

/** The first token of every subject inTenant puts a tenant's object under. */
const TENANT_PREFIX = 'tenant';
/** In a pattern: any one tenant (a tenant name is one token). */
const ANY_TENANT = '*';

/**
 * Every broker subject streamgate uses, in one place. Where a legacy system fixed a name
 * (contract/legacy.md), it is kept so existing processors on the network interoperate.
 * Backends map these subjects to their own names (Kafka topics, Redis channels) in their adapters.
 */
export const subjects = {
  /** ISM: every message of one state of a tenant (legacy.md A for the default tenant). */
  state: (tenant: string | null, stateId: string) => inTenant(tenant, `processor.state.${stateId}`),
  /** ISM: the messages of one session of a state. */
  stateSession: (tenant: string | null, stateId: string, sessionId: string) =>
    inTenant(tenant, `processor.state.${stateId}.${sessionId}`),
  /** ISM: where the sync store consumes `query_state_direct` (legacy.md B). */
  defaultSyncStore: DEFAULT_SYNC_STORE_SUBJECT,
  /** ISM: request/reply to the providers of a tenant's data source (legacy.md A for the default tenant). */
  dataSource: (tenant: string | null, dataSourceId: string) => inTenant(tenant, `datasource.${dataSourceId}`),
  /** ISM: every data source's request subject of the default tenant; streamgate answers them all (queue group). */
  anyDataSource: 'datasource.*',
  /** Every other tenant's data source request subjects, answered the same way. */
  anyTenantDataSource: inTenant(ANY_TENANT, 'datasource.*'),
  /**
   * Internal: instances with a provider of the tenant's data source listen here (queue group), so
   * an instance without one can hand a request over (docs/datasources.md): `streamgate.` + the
   * data source's subject. The prefix comes first so that no request pattern of the network
   * (`tenant.*.datasource.*`) covers it, not even as a Redis glob, whose `*` spans dots.
   */
  dataSourceProviders: (tenant: string | null, dataSourceId: string) =>
    `streamgate.${inTenant(tenant, `datasource.${dataSourceId}`)}`,
  /** Internal: answers to requests that one instance sent and another instance received. */
  dataSourceAnswers: (instanceId: string) => `streamgate.datasource-answer.${instanceId}`,
  /** ApiGear: the live telemetry of one device of a tenant (legacy.md C for the default tenant). */
  monitor: (tenant: string | null, deviceId: string) => inTenant(tenant, `monitor.${deviceId}`),
  /** ApiGear: the recording RPC. */
  recordRpc: 'streams.record.rpc',
  /** Topics published through the broker (not Kafka-sourced ones). */
  topic: (topicName: string) => `topic.${topicName}`,
} as const;

/**
 * The subject of a tenant's object: the legacy subject itself for the default tenant (null: the
 * network, legacy clients, single-tenant deployments), under `tenant.{tenant}.` for any other.
 * Ids are scoped per tenant, so the same id in two tenants is two objects on two subjects that
 * never see each other's messages. Tenant names are one subject token (tenantNameProblem, checked
 * where a tenant enters: token claims and MONITOR_TENANT).
 */
export function inTenant(tenant: string | null, subject: string): string {
  return tenant === null ? subject : `${TENANT_PREFIX}.${tenant}.${subject}`;
}

/**
 * The tenant and the legacy subject of a subject that inTenant made (its inverse), for
 * responders on a pattern that spans tenants. Legacy subjects never start with `tenant.`.
 */
export function splitTenant(subject: string): { readonly tenant: string | null; readonly subject: string } {
  const prefix = `${TENANT_PREFIX}.`;
  const end = subject.indexOf('.', prefix.length);
  if (!subject.startsWith(prefix) || end < 0) return { tenant: null, subject };
  return { tenant: subject.slice(prefix.length, end), subject: subject.slice(end + 1) };
}

/** True when `token` can stand as one subject token: no dots, wildcards or white space. */
export function isSubjectToken(token: string): boolean {
  return token.length > 0 && !/[.*>\s]/.test(token);
}
