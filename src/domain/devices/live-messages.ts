/** Live telemetry of a device (Subscription.deviceMessages): the messages on `monitor.{device}`. */
import type { Broker } from '../../pubsub/broker.ts';
import { mapSubscription } from '../../pubsub/map-subscription.ts';
import { subjects } from '../../pubsub/subjects.ts';
import { type DeviceMessage, deviceMessageFromBroker } from './device-message.ts';

/** The device's messages from now on; ending the iteration ends the broker subscription at once. */
export function liveDeviceMessages(broker: Broker, deviceId: string): AsyncIterableIterator<DeviceMessage> {
  return mapSubscription(broker.subscribe(subjects.monitor(deviceId)), (message) =>
    deviceMessageFromBroker(deviceId, message),
  );
}
