/** Devices in Postgres: registered on first sight, owned by the tenant that first sent or named them. */
import type { Database } from '../../db/create-database.ts';
import type { Device as DeviceRow } from '../../generated/prisma/client.ts';
import { type Page, pageArgs, toPage } from '../pagination.ts';
import { tenantKey, tenantOfKey } from '../viewer.ts';

/** A device as the domain hands it out (Device in the API). */
export interface Device {
  readonly id: string;
  readonly tenantId: string | null;
  readonly firstSeenAt: Date;
  readonly lastSeenAt: Date | null;
  readonly messageCount: number;
  readonly lastSeq: number;
  /** Null: no buffer window. */
  readonly bufferWindowMs: number | null;
}

/**
 * The tenant an operation acts in. Devices are keyed by (tenant, id): the same id in another
 * tenant is another device, which does not exist for this scope.
 */
export interface DeviceScope {
  readonly tenantId: string | null;
}

export function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    tenantId: tenantOfKey(row.tenantId),
    firstSeenAt: row.firstSeenAt,
    lastSeenAt: row.lastSeenAt,
    messageCount: Number(row.messageCount),
    lastSeq: Number(row.lastSeq),
    bufferWindowMs: row.bufferWindowMs,
  };
}

/** The unique key of the scope's device `id`, for Prisma. */
export function deviceKey(scope: DeviceScope, id: string) {
  return { tenantId_id: { tenantId: tenantKey(scope.tenantId), id } };
}

/** The scope's device of that id, or null. */
export async function findDevice(db: Database, scope: DeviceScope, id: string): Promise<Device | null> {
  const row = await db.prisma.device.findUnique({ where: deviceKey(scope, id) });
  return row ? toDevice(row) : null;
}

/** The scope's devices by id. */
export async function listDevices(
  db: Database,
  scope: DeviceScope,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Page<Device>> {
  const page = pageArgs(first, after, 50);
  const rows = await db.prisma.device.findMany({
    where: {
      tenantId: tenantKey(scope.tenantId),
      ...(page.after === undefined ? {} : { id: { gt: page.after } }),
    },
    orderBy: { id: 'asc' },
    take: page.first + 1,
  });
  return toPage(rows, page.first, (row) => row.id, toDevice);
}

/**
 * Registers the device for the scope if it is new (with the default buffer window) and returns
 * it; `created` tells whether this call registered it.
 */
export async function registerDevice(
  db: Database,
  scope: DeviceScope,
  id: string,
  defaultWindowMs: number | null,
): Promise<{ device: Device; created: boolean }> {
  const existing = await db.prisma.device.findUnique({ where: deviceKey(scope, id) });
  if (existing) return { device: toDevice(existing), created: false };
  const rows = await db.prisma.$queryRaw<DeviceRow[]>`
    INSERT INTO "Device" ("id", "tenantId", "firstSeenAt", "bufferWindowMs")
    VALUES (${id}, ${tenantKey(scope.tenantId)}, ${new Date()}, ${defaultWindowMs})
    ON CONFLICT ("tenantId", "id") DO NOTHING
    RETURNING *`;
  const created = rows[0];
  if (created) return { device: toDevice(created), created: true };
  // Another request registered it between the two statements.
  return registerDevice(db, scope, id, defaultWindowMs);
}
