-- AlterTable
ALTER TABLE "Recording" ADD COLUMN     "bufferCopiedAt" TIMESTAMP(3),
ADD COLUMN     "imported" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "preRollMs" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "seamSeq" BIGINT NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "MonitorOutbox" (
    "id" BIGSERIAL NOT NULL,
    "deviceId" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "headers" JSONB NOT NULL,
    "payload" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,

    CONSTRAINT "MonitorOutbox_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "MonitorOutbox_deviceId_seq_key" ON "MonitorOutbox"("deviceId", "seq");

