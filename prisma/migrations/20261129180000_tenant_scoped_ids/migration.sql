-- Ids are scoped per tenant (issue 14, "tenancy without an oracle"): states, their entries,
-- devices, recordings, their messages and the monitor outbox are keyed by (tenantId, id).
-- "" is the default tenant (no tenant), which every row without a tenant moves to. Every row is
-- kept; children take their parent's tenant so that the composite foreign keys hold.

-- DropForeignKey
ALTER TABLE "StateEntry" DROP CONSTRAINT "StateEntry_stateId_fkey";
ALTER TABLE "Recording" DROP CONSTRAINT "Recording_deviceId_fkey";
ALTER TABLE "RecordingMessage" DROP CONSTRAINT "RecordingMessage_recordingId_fkey";

-- DropIndex
DROP INDEX "State_tenantId_idx";
DROP INDEX "StateEntry_stateId_sessionId_seq_idx";
DROP INDEX "StateEntry_stateId_seq_key";
DROP INDEX "Device_tenantId_idx";
DROP INDEX "Recording_deviceId_status_idx";
DROP INDEX "RecordingMessage_recordingId_timestamp_idx";
DROP INDEX "MonitorOutbox_deviceId_seq_key";

-- State: no tenant becomes the default tenant
UPDATE "State" SET "tenantId" = '' WHERE "tenantId" IS NULL;
ALTER TABLE "State" DROP CONSTRAINT "State_pkey",
ALTER COLUMN "tenantId" SET NOT NULL,
ALTER COLUMN "tenantId" SET DEFAULT '',
ADD CONSTRAINT "State_pkey" PRIMARY KEY ("tenantId", "id");

-- StateEntry: the tenant of its state
ALTER TABLE "StateEntry" ADD COLUMN "tenantId" TEXT NOT NULL DEFAULT '';
UPDATE "StateEntry" AS e SET "tenantId" = s."tenantId" FROM "State" AS s WHERE s."id" = e."stateId";

-- Device
UPDATE "Device" SET "tenantId" = '' WHERE "tenantId" IS NULL;
ALTER TABLE "Device" DROP CONSTRAINT "Device_pkey",
ALTER COLUMN "tenantId" SET NOT NULL,
ALTER COLUMN "tenantId" SET DEFAULT '',
ADD CONSTRAINT "Device_pkey" PRIMARY KEY ("tenantId", "id");

-- Recording: the tenant of its device (they were equal; the device decides if not)
UPDATE "Recording" AS r SET "tenantId" = d."tenantId" FROM "Device" AS d WHERE d."id" = r."deviceId";
UPDATE "Recording" SET "tenantId" = '' WHERE "tenantId" IS NULL;
ALTER TABLE "Recording" DROP CONSTRAINT "Recording_pkey",
ALTER COLUMN "tenantId" SET NOT NULL,
ALTER COLUMN "tenantId" SET DEFAULT '',
ADD CONSTRAINT "Recording_pkey" PRIMARY KEY ("tenantId", "id");

-- RecordingMessage: the tenant of its recording
ALTER TABLE "RecordingMessage" ADD COLUMN "tenantId" TEXT NOT NULL DEFAULT '';
UPDATE "RecordingMessage" AS m SET "tenantId" = r."tenantId" FROM "Recording" AS r WHERE r."id" = m."recordingId";
ALTER TABLE "RecordingMessage" DROP CONSTRAINT "RecordingMessage_pkey",
ADD CONSTRAINT "RecordingMessage_pkey" PRIMARY KEY ("tenantId", "recordingId", "seq");

-- MonitorOutbox: the tenant of its device
ALTER TABLE "MonitorOutbox" ADD COLUMN "tenantId" TEXT NOT NULL DEFAULT '';
UPDATE "MonitorOutbox" AS o SET "tenantId" = d."tenantId" FROM "Device" AS d WHERE d."id" = o."deviceId";

-- CreateIndex
CREATE UNIQUE INDEX "StateEntry_tenantId_stateId_seq_key" ON "StateEntry"("tenantId", "stateId", "seq");
CREATE INDEX "StateEntry_tenantId_stateId_sessionId_seq_idx" ON "StateEntry"("tenantId", "stateId", "sessionId", "seq");
CREATE INDEX "Recording_tenantId_deviceId_status_idx" ON "Recording"("tenantId", "deviceId", "status");
CREATE INDEX "RecordingMessage_tenantId_recordingId_timestamp_idx" ON "RecordingMessage"("tenantId", "recordingId", "timestamp");
CREATE UNIQUE INDEX "MonitorOutbox_tenantId_deviceId_seq_key" ON "MonitorOutbox"("tenantId", "deviceId", "seq");

-- AddForeignKey
ALTER TABLE "StateEntry" ADD CONSTRAINT "StateEntry_tenantId_stateId_fkey" FOREIGN KEY ("tenantId", "stateId") REFERENCES "State"("tenantId", "id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "Recording" ADD CONSTRAINT "Recording_tenantId_deviceId_fkey" FOREIGN KEY ("tenantId", "deviceId") REFERENCES "Device"("tenantId", "id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "RecordingMessage" ADD CONSTRAINT "RecordingMessage_tenantId_recordingId_fkey" FOREIGN KEY ("tenantId", "recordingId") REFERENCES "Recording"("tenantId", "id") ON DELETE CASCADE ON UPDATE CASCADE;
