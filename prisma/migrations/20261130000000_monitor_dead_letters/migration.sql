-- Device messages the broker refused for good are moved out of the outbox, where they blocked
-- every newer message of their device, and kept here with the reason (docs/devices.md).

-- CreateTable
CREATE TABLE "MonitorDeadLetter" (
    "id" BIGSERIAL NOT NULL,
    "tenantId" TEXT NOT NULL DEFAULT '',
    "deviceId" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "headers" JSONB NOT NULL,
    "payload" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deadAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "reason" TEXT NOT NULL,

    CONSTRAINT "MonitorDeadLetter_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "MonitorDeadLetter_tenantId_deviceId_seq_key" ON "MonitorDeadLetter"("tenantId", "deviceId", "seq");
