/** Live telemetry of a device (Subscription.deviceMessages): the messages on `monitor.{device}`. */
import type { Broker, BrokerMessage, Subscription } from '../../pubsub/broker.ts';
import { subjects } from '../../pubsub/subjects.ts';
import { type DeviceMessage, deviceMessageFromBroker } from './device-message.ts';

/**
 * The device's messages from now on. A hand-written iterator rather than a generator: `return`
 * must end the broker subscription at once, even while waiting for a message of an idle device.
 */
export function liveDeviceMessages(broker: Broker, deviceId: string): AsyncIterableIterator<DeviceMessage> {
  const subscription: Subscription = broker.subscribe(subjects.monitor(deviceId));
  const iterator = subscription[Symbol.asyncIterator]();
  const map = (result: IteratorResult<BrokerMessage>): IteratorResult<DeviceMessage> =>
    result.done
      ? { done: true, value: undefined }
      : { done: false, value: deviceMessageFromBroker(deviceId, result.value) };
  return {
    next: () => iterator.next().then(map),
    async return() {
      subscription.unsubscribe();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      subscription.unsubscribe();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
