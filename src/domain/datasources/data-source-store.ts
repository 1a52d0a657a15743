import type { PrismaClient } from '../../db/create-database.ts';

/** A data source as the database records it: its id and the tenant of its first provider. */
export interface DataSourceRecord {
  readonly id: string;
  readonly tenantId: string | null;
}

/** Where data sources and their owning tenants are kept (Postgres, so every instance agrees). */
export interface DataSourceStore {
  /** The record of `id`, created for `tenantId` if it has none yet (the first provider's tenant). */
  claim(id: string, tenantId: string | null): Promise<DataSourceRecord>;
  find(id: string): Promise<DataSourceRecord | null>;
  /** The tenant's data sources, by id. */
  listForTenant(tenantId: string | null): Promise<DataSourceRecord[]>;
}

export function createDataSourceStore(prisma: PrismaClient): DataSourceStore {
  const select = { id: true, tenantId: true } as const;
  return {
    async claim(id, tenantId) {
      // ON CONFLICT DO NOTHING: two first providers racing on two instances get the same winner.
      await prisma.dataSource.createMany({ data: [{ id, tenantId }], skipDuplicates: true });
      return prisma.dataSource.findUniqueOrThrow({ where: { id }, select });
    },
    find: (id) => prisma.dataSource.findUnique({ where: { id }, select }),
    listForTenant: (tenantId) =>
      prisma.dataSource.findMany({ where: { tenantId }, orderBy: { id: 'asc' }, select }),
  };
}
