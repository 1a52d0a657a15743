import type { BrokerMessage, Subscription } from './broker.ts';
import { createSubscriptionQueue, type SubscriptionQueue } from './subscription-queue.ts';

/** Where a backend puts what its broker subscription receives. */
export interface FeedSink {
  deliver(message: BrokerMessage): void;
  /** The broker subscription broke for good: every subscriber on it ends with this error. */
  fail(error: Error): void;
}

/** One subscription held at the broker, opened by a backend. */
export interface BrokerFeed {
  /** Resolves once the broker has the subscription; a rejection fails its subscribers. */
  readonly ready: Promise<void>;
  /** Drops it at the broker. Called once: when its last subscriber left, on failure, or on close. */
  close(): void;
}

/** How a backend opens a broker subscription on a pattern, optionally in a queue group. */
export type OpenFeed = (pattern: string, queue: string | undefined, sink: FeedSink) => BrokerFeed;

/** One broker subscription and the local subscribers that share it. */
interface FeedGroup {
  readonly key: string | undefined;
  readonly queue: string | undefined;
  readonly members: SubscriptionQueue[];
  feed: BrokerFeed | undefined;
  /** Round-robin cursor of a queue group. */
  next: number;
  closed: boolean;
}

/**
 * Local subscribers of one pattern (and queue group) share one broker subscription, counted by
 * reference and dropped when the last one leaves. Every backend builds on this, so the sharing
 * rule holds the same way everywhere.
 */
export class SharedSubscriptions {
  private readonly groups = new Map<string, FeedGroup>();
  private readonly alone = new Set<FeedGroup>();
  private readonly live = new Set<SubscriptionQueue>();

  constructor(private readonly open: OpenFeed) {}

  /** Live local subscriptions. */
  get subscriptionCount(): number {
    return this.live.size;
  }

  /** Subscriptions held at the broker. */
  get feedCount(): number {
    return this.groups.size + this.alone.size;
  }

  /**
   * A subscriber sharing the broker subscription of `pattern` (per queue group). A queue
   * group's messages go round-robin to its local members: the broker already picked this
   * instance, so only one local member may see each message.
   */
  subscribe(pattern: string, queue: string | undefined): Subscription {
    const key = `${queue ?? ''}\u0000${pattern}`;
    let group = this.groups.get(key);
    const isNew = group === undefined;
    if (!group) {
      group = { key, queue, members: [], feed: undefined, next: 0, closed: false };
      this.groups.set(key, group);
    }
    const member = this.addMember(pattern, group);
    if (isNew) this.openFeed(group, (sink) => this.open(pattern, queue, sink));
    member.settleReady(group.feed?.ready ?? Promise.resolve());
    return member.subscription;
  }

  /** A subscriber with a broker subscription of its own (a replay from a position is per subscriber). */
  subscribeAlone(pattern: string, open: (sink: FeedSink) => BrokerFeed): Subscription {
    const group: FeedGroup = {
      key: undefined,
      queue: undefined,
      members: [],
      feed: undefined,
      next: 0,
      closed: false,
    };
    this.alone.add(group);
    const member = this.addMember(pattern, group);
    this.openFeed(group, open);
    member.settleReady(group.feed?.ready ?? Promise.resolve());
    return member.subscription;
  }

  /** Ends every subscription (with `error` for its consumer, if given) and drops every feed. */
  closeAll(error?: Error): void {
    for (const group of [...this.groups.values(), ...this.alone]) this.failGroup(group, error);
  }

  private addMember(pattern: string, group: FeedGroup): SubscriptionQueue {
    const member = createSubscriptionQueue(pattern, () => {
      this.live.delete(member);
      const index = group.members.indexOf(member);
      if (index >= 0) group.members.splice(index, 1);
      if (group.members.length === 0) this.dropGroup(group);
    });
    group.members.push(member);
    this.live.add(member);
    return member;
  }

  private openFeed(group: FeedGroup, open: (sink: FeedSink) => BrokerFeed): void {
    const sink: FeedSink = {
      deliver: (message) => this.deliver(group, message),
      fail: (error) => this.failGroup(group, error),
    };
    let feed: BrokerFeed;
    try {
      feed = open(sink);
    } catch (error) {
      this.failGroup(group, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (group.closed) {
      // Every member left (or failed) while the feed was opening: it is not needed any more.
      feed.close();
      return;
    }
    group.feed = feed;
    feed.ready.catch((error: unknown) =>
      sink.fail(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private deliver(group: FeedGroup, message: BrokerMessage): void {
    if (group.closed) return;
    if (group.queue === undefined) {
      for (const member of group.members) member.push(message);
      return;
    }
    const member = group.members[group.next % group.members.length];
    group.next = (group.next + 1) % Math.max(1, group.members.length);
    member?.push(message);
  }

  private failGroup(group: FeedGroup, error: Error | undefined): void {
    if (group.closed) return;
    // Members leave the group as they end; dropGroup runs when the last one has.
    for (const member of [...group.members]) member.end(error);
    this.dropGroup(group);
  }

  private dropGroup(group: FeedGroup): void {
    if (group.closed) return;
    group.closed = true;
    if (group.key === undefined) this.alone.delete(group);
    else if (this.groups.get(group.key) === group) this.groups.delete(group.key);
    group.feed?.close();
    group.feed = undefined;
  }
}
