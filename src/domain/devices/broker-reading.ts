/** Reading a bounded stretch of a retained window, where the broker does not say where it ends. */
import type { BrokerMessage, Subscription } from '../../pubsub/broker.ts';

/**
 * The next message, or undefined when none arrives within `idleMs` (the retained part of the
 * window is over and nothing new came) or the subscription ended.
 */
export async function nextWithin(
  iterator: AsyncIterator<BrokerMessage>,
  idleMs: number,
): Promise<BrokerMessage | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), idleMs);
  });
  try {
    const result = await Promise.race([iterator.next(), idle]);
    return result === undefined || result.done ? undefined : result.value;
  } finally {
    clearTimeout(timer);
  }
}

/** Iterates a subscription and always unsubscribes afterwards. */
export async function withSubscription<T>(
  subscription: Subscription,
  use: (iterator: AsyncIterator<BrokerMessage>) => Promise<T>,
): Promise<T> {
  try {
    return await use(subscription[Symbol.asyncIterator]());
  } finally {
    subscription.unsubscribe();
  }
}
