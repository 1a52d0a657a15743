/** Live telemetry of a device (Subscription.deviceMessages): the messages on `monitor.{device}`. */
import type { Broker } from '../../pubsub/broker.ts';
import { mapSubscription } from '../../pubsub/map-subscription.ts';
import { subjects } from '../../pubsub/subjects.ts';
import { BROKER_MESSAGE_PATHS, type BrokerMessageBounds } from '../broker-message-bounds.ts';
import { type DeviceMessage, deviceMessageFromBroker } from './device-message.ts';

/**
 * The tenant's device's messages from now on; ending the iteration ends the broker subscription at once.
 * A message another producer put there out of `bounds` is skipped (logged and counted).
 */
export function liveDeviceMessages(
  broker: Broker,
  tenant: string | null,
  deviceId: string,
  bounds: BrokerMessageBounds,
): AsyncIterableIterator<DeviceMessage> {
  return mapSubscription(broker.subscribe(subjects.monitor(tenant, deviceId)), (message) => {
    const deviceMessage = deviceMessageFromBroker(deviceId, message);
    return bounds.admits(BROKER_MESSAGE_PATHS.DEVICE, message.subject, deviceMessage.data)
      ? deviceMessage
      : undefined;
  });
}
