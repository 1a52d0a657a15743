-- Data sources are scoped per tenant like states (issue 14, "tenancy without an oracle"): keyed by
-- (tenantId, id), so an id taken in another tenant is a data source of its own. "" is the default
-- tenant (no tenant), which every row without a tenant moves to. Every row is kept.

-- DropIndex: the primary key starts with the tenant now
DROP INDEX "DataSource_tenantId_idx";

-- DataSource: no tenant becomes the default tenant
UPDATE "DataSource" SET "tenantId" = '' WHERE "tenantId" IS NULL;
ALTER TABLE "DataSource" DROP CONSTRAINT "DataSource_pkey",
ALTER COLUMN "tenantId" SET NOT NULL,
ALTER COLUMN "tenantId" SET DEFAULT '',
ADD CONSTRAINT "DataSource_pkey" PRIMARY KEY ("tenantId", "id");
