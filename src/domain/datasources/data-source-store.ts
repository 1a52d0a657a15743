import type { PrismaClient } from '../../db/create-database.ts';
import { tenantKey } from '../viewer.ts';
import type { DataSourceRef } from './provider.ts';

/**
 * Where the data sources of each tenant are kept (Postgres, so every instance lists the same),
 * keyed by (tenant, id) like states: the same id in two tenants is two data sources.
 */
export interface DataSourceStore {
  /** Records the data source once a provider connects to it; recording it again changes nothing. */
  record(dataSource: DataSourceRef): Promise<void>;
  /** The ids of the tenant's data sources, in order. */
  listForTenant(tenantId: string | null): Promise<string[]>;
}

export function createDataSourceStore(prisma: PrismaClient): DataSourceStore {
  return {
    async record({ tenantId, dataSourceId }) {
      // ON CONFLICT DO NOTHING: two first providers racing on two instances record it once.
      await prisma.dataSource.createMany({
        data: [{ tenantId: tenantKey(tenantId), id: dataSourceId }],
        skipDuplicates: true,
      });
    },
    async listForTenant(tenantId) {
      const rows = await prisma.dataSource.findMany({
        where: { tenantId: tenantKey(tenantId) },
        orderBy: { id: 'asc' },
        select: { id: true },
      });
      return rows.map((row) => row.id);
    },
  };
}
