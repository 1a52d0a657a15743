-- CreateTable
CREATE TABLE "State" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT,
    "name" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "State_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StateEntry" (
    "id" TEXT NOT NULL,
    "stateId" TEXT NOT NULL,
    "sessionId" TEXT,
    "seq" BIGINT NOT NULL,
    "data" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StateEntry_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OutboxMessage" (
    "id" BIGSERIAL NOT NULL,
    "subject" TEXT NOT NULL,
    "payload" BYTEA NOT NULL,
    "headers" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,

    CONSTRAINT "OutboxMessage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Route" (
    "id" TEXT NOT NULL,
    "selector" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "name" TEXT,
    "url" TEXT,
    "queue" TEXT,
    "origin" TEXT NOT NULL DEFAULT 'api',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Route_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Topic" (
    "name" TEXT NOT NULL,
    "description" TEXT,
    "source" TEXT NOT NULL DEFAULT 'BROKER',
    "kafkaTopic" TEXT,
    "requiredRoles" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "tenants" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Topic_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "Device" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT,
    "firstSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMP(3),
    "messageCount" BIGINT NOT NULL DEFAULT 0,
    "lastSeq" BIGINT NOT NULL DEFAULT 0,
    "bufferWindowMs" INTEGER,

    CONSTRAINT "Device_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Recording" (
    "id" TEXT NOT NULL,
    "deviceId" TEXT NOT NULL,
    "tenantId" TEXT,
    "status" TEXT NOT NULL DEFAULT 'RECORDING',
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "stoppedAt" TIMESTAMP(3),
    "retentionMs" BIGINT NOT NULL,
    "expiresAt" TIMESTAMP(3),
    "note" TEXT,

    CONSTRAINT "Recording_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RecordingMessage" (
    "recordingId" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "timestamp" TIMESTAMP(3) NOT NULL,
    "eventId" TEXT,
    "type" TEXT,
    "symbol" TEXT,
    "headers" JSONB,
    "data" JSONB NOT NULL,

    CONSTRAINT "RecordingMessage_pkey" PRIMARY KEY ("recordingId","seq")
);

-- CreateIndex
CREATE INDEX "State_tenantId_idx" ON "State"("tenantId");

-- CreateIndex
CREATE INDEX "StateEntry_stateId_sessionId_seq_idx" ON "StateEntry"("stateId", "sessionId", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "StateEntry_stateId_seq_key" ON "StateEntry"("stateId", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "Route_selector_subject_key" ON "Route"("selector", "subject");

-- CreateIndex
CREATE INDEX "Device_tenantId_idx" ON "Device"("tenantId");

-- CreateIndex
CREATE INDEX "Recording_deviceId_status_idx" ON "Recording"("deviceId", "status");

-- CreateIndex
CREATE INDEX "Recording_expiresAt_idx" ON "Recording"("expiresAt");

-- CreateIndex
CREATE INDEX "RecordingMessage_recordingId_timestamp_idx" ON "RecordingMessage"("recordingId", "timestamp");

-- AddForeignKey
ALTER TABLE "StateEntry" ADD CONSTRAINT "StateEntry_stateId_fkey" FOREIGN KEY ("stateId") REFERENCES "State"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Recording" ADD CONSTRAINT "Recording_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RecordingMessage" ADD CONSTRAINT "RecordingMessage_recordingId_fkey" FOREIGN KEY ("recordingId") REFERENCES "Recording"("id") ON DELETE CASCADE ON UPDATE CASCADE;

