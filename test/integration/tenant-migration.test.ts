/**
 * The migrations to ids scoped per tenant (20261129180000_tenant_scoped_ids for states, devices
 * and recordings; 20261129204500_tenant_scoped_data_sources for data sources) on a database that
 * holds rows: written with the schema before each, migrated at start-up like any upgrade, and read
 * back through the domain. Rows without a tenant are the default tenant's; a tenant's rows stay
 * its own, children with their parents.
 */
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/create-database.ts';
import { createDataSourceStore } from '../../src/domain/datasources/data-source-store.ts';
import { findDevice } from '../../src/domain/devices/device-store.ts';
import { findRecording, recordingStats } from '../../src/domain/devices/recording-store.ts';
import { migrationsBefore, OLD_DATABASES } from '../helpers/old-database.ts';

const TENANT_MIGRATION = '20261129180000_tenant_scoped_ids';
const DATA_SOURCE_MIGRATION = '20261129204500_tenant_scoped_data_sources';
/** Rows as the schema before the migration wrote them: global ids, a nullable tenant. */
const OLD_ROWS = `
  INSERT INTO "State" (id, "tenantId", name) VALUES ('shared', NULL, 'network'), ('owned', 'acme', 'acme''s');
  INSERT INTO "StateEntry" (id, "stateId", "sessionId", seq, data) VALUES
    ('entry:1', 'shared', NULL, 1, '{"n":1}'), ('entry:2', 'shared', 's', 2, '{"n":2}'),
    ('entry:3', 'owned', NULL, 1, '{"n":3}');
  INSERT INTO "Device" (id, "tenantId", "messageCount", "lastSeq", "bufferWindowMs") VALUES
    ('dev-plain', NULL, 2, 2, 300000), ('dev-acme', 'acme', 1, 1, NULL);
  INSERT INTO "Recording" (id, "deviceId", "tenantId", status, "retentionMs", imported) VALUES
    ('rec-plain', 'dev-plain', NULL, 'STOPPED', 60000, true), ('rec-acme', 'dev-acme', 'acme', 'RECORDING', 60000, false);
  INSERT INTO "RecordingMessage" ("recordingId", seq, timestamp, data) VALUES
    ('rec-plain', 1, '2026-01-01T00:00:00Z', '{"a":1}'), ('rec-plain', 2, '2026-01-01T00:00:01Z', '{"a":2}'),
    ('rec-acme', 1, '2026-01-01T00:00:02Z', '{"b":1}');
  INSERT INTO "MonitorOutbox" ("deviceId", seq, headers, payload) VALUES ('dev-acme', 1, '{}', 'x');
`;

describe.each(OLD_DATABASES)('the migrations to tenant-scoped ids on %s', (_kind, oldDatabase) => {
  it('keeps every row: no tenant becomes the default tenant, a tenant keeps its own', async () => {
    const database = await oldDatabase(await migrationsBefore(TENANT_MIGRATION), OLD_ROWS);
    const db = await openDatabase({ database });
    try {
      const { prisma } = db;
      expect(await prisma.state.count()).toBe(2);
      expect(await prisma.stateEntry.count()).toBe(3);
      expect(
        await prisma.state.findUnique({ where: { tenantId_id: { tenantId: '', id: 'shared' } } }),
      ).toMatchObject({ name: 'network' });
      expect(
        await prisma.state.findUnique({ where: { tenantId_id: { tenantId: 'acme', id: 'owned' } } }),
      ).toMatchObject({ name: "acme's" });
      const entries = await prisma.stateEntry.findMany({ orderBy: { id: 'asc' } });
      expect(entries.map((entry) => [entry.tenantId, entry.stateId, Number(entry.seq), entry.data])).toEqual([
        ['', 'shared', 1, { n: 1 }],
        ['', 'shared', 2, { n: 2 }],
        ['acme', 'owned', 1, { n: 3 }],
      ]);

      // Devices and recordings, read through the domain in each tenant's scope.
      const plain = { tenantId: null };
      const acme = { tenantId: 'acme' };
      expect(await findDevice(db, plain, 'dev-plain')).toMatchObject({
        tenantId: null,
        messageCount: 2,
        bufferWindowMs: 300_000,
      });
      expect(await findDevice(db, acme, 'dev-plain')).toBeNull();
      expect(await findDevice(db, acme, 'dev-acme')).toMatchObject({ tenantId: 'acme', messageCount: 1 });
      const plainRecording = await findRecording(db, plain, 'rec-plain');
      expect(plainRecording).toMatchObject({ deviceId: 'dev-plain', status: 'STOPPED', imported: true });
      expect(await recordingStats(db, plainRecording as NonNullable<typeof plainRecording>)).toMatchObject({
        messageCount: 2,
      });
      const acmeRecording = await findRecording(db, acme, 'rec-acme');
      expect(acmeRecording).toMatchObject({ deviceId: 'dev-acme', status: 'RECORDING' });
      expect(await recordingStats(db, acmeRecording as NonNullable<typeof acmeRecording>)).toMatchObject({
        messageCount: 1,
      });
      expect(await findRecording(db, plain, 'rec-acme')).toBeNull();
      expect(await prisma.monitorOutbox.findMany({ select: { tenantId: true, deviceId: true } })).toEqual([
        { tenantId: 'acme', deviceId: 'dev-acme' },
      ]);

      // After the migration the same id can be taken in another tenant.
      await prisma.state.create({ data: { tenantId: 'acme', id: 'shared' } });
      expect(await prisma.state.count({ where: { id: 'shared' } })).toBe(2);
    } finally {
      await db.close();
    }
  });

  it("data sources: no tenant becomes the default tenant's, a tenant keeps its own, and an id can be taken in another tenant", async () => {
    const database = await oldDatabase(
      await migrationsBefore(DATA_SOURCE_MIGRATION),
      `INSERT INTO "DataSource" (id, "tenantId") VALUES ('ds-plain', NULL), ('ds-acme', 'acme'), ('ds-both', 'acme');`,
    );
    const db = await openDatabase({ database });
    try {
      const store = createDataSourceStore(db.prisma);
      expect(await store.listForTenant(null)).toEqual(['ds-plain']);
      expect(await store.listForTenant('acme')).toEqual(['ds-acme', 'ds-both']);
      expect(await store.listForTenant('other')).toEqual([]);
      // After the migration the same id is a data source of each tenant; recording it again changes nothing.
      await store.record({ tenantId: null, dataSourceId: 'ds-both' });
      await store.record({ tenantId: 'other', dataSourceId: 'ds-acme' });
      await store.record({ tenantId: 'acme', dataSourceId: 'ds-acme' });
      expect(await store.listForTenant(null)).toEqual(['ds-both', 'ds-plain']);
      expect(await store.listForTenant('acme')).toEqual(['ds-acme', 'ds-both']);
      expect(await store.listForTenant('other')).toEqual(['ds-acme']);
      expect(await db.prisma.dataSource.count()).toBe(5);
    } finally {
      await db.close();
    }
  });
});
