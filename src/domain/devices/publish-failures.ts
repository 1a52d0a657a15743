/**
 * What ingest does with the messages of a batch the broker did not take (ingest.ts): a refusal
 * for good (pubsub/errors.ts `isPermanentRefusal`: a limit or a permission of the broker's) is
 * no outage, so it is answered as itself or kept aside as a dead letter; anything else waits in
 * the device outbox, published before any newer message of the device.
 */
import type { SqlClient } from '../../db/sql-client.ts';
import { AppError, messageOf } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { PublishOutcome } from '../../pubsub/broker.ts';
import { isPermanentRefusal } from '../../pubsub/errors.ts';
import type { DeviceScope } from './device-store.ts';
import {
  type Outbox,
  type PendingMonitorMessage,
  storeDeadLetters,
  storeInOutbox,
} from './monitor-outbox.ts';

/**
 * For a batch the broker took none of: the first refusal for good, as the answer (its code kept:
 * 413 for a size limit, 403 for a permission), naming the event. Undefined when none was one.
 */
export function refusalOfBatch(receipts: readonly PublishOutcome[]): AppError | undefined {
  for (let index = 0; index < receipts.length; index++) {
    const receipt = receipts[index];
    if (receipt?.status !== 'rejected' || !isPermanentRefusal(receipt.reason)) continue;
    const error = receipt.reason as AppError;
    return new AppError(
      error.code,
      `event ${index} was refused by the broker: ${error.message}; nothing was accepted`,
      { cause: error, details: { index } },
    );
  }
  return undefined;
}

/**
 * For a batch the broker took part of, inside its transaction: the messages it refused for good
 * become dead letters (in the outbox they would stop every newer message of the device), the
 * rest waits in the outbox.
 */
export async function keepUnpublished(
  sql: SqlClient,
  deps: { readonly outbox: Outbox; readonly log: Logger },
  scope: DeviceScope,
  deviceId: string,
  messages: readonly PendingMonitorMessage[],
  receipts: readonly PublishOutcome[],
): Promise<void> {
  /** By reason: one statement per distinct refusal. */
  const refused = new Map<string, PendingMonitorMessage[]>();
  const retry: PendingMonitorMessage[] = [];
  let retryError: unknown;
  messages.forEach((message, index) => {
    const receipt = receipts[index];
    if (receipt?.status !== 'rejected') return;
    if (!isPermanentRefusal(receipt.reason)) {
      retryError ??= receipt.reason;
      retry.push(message);
      return;
    }
    const reason = messageOf(receipt.reason);
    const same = refused.get(reason);
    if (same) same.push(message);
    else refused.set(reason, [message]);
  });
  for (const [reason, dead] of refused) {
    await storeDeadLetters(sql, deps.outbox, scope, deviceId, dead, reason);
  }
  if (retry.length > 0) {
    deps.log.warn(
      { deviceId, failed: retry.length, of: messages.length, err: retryError },
      'broker failed part-way through a monitor batch; the rest waits in the device outbox',
    );
    await storeInOutbox(sql, scope, deviceId, retry, String(retryError));
  }
}
