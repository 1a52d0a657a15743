-- State messages (the transactional outbox, "OutboxMessage") the broker refused for good are
-- moved out of the outbox, where they blocked every later row, and kept here with the reason
-- (docs/ism.md, "Dead letters"). "id" is the outbox row's: the order they were written in.

-- CreateTable
CREATE TABLE "OutboxDeadLetter" (
    "id" BIGINT NOT NULL,
    "subject" TEXT NOT NULL,
    "payload" BYTEA NOT NULL,
    "headers" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "deadAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "code" TEXT NOT NULL,
    "reason" TEXT NOT NULL,

    CONSTRAINT "OutboxDeadLetter_pkey" PRIMARY KEY ("id")
);
