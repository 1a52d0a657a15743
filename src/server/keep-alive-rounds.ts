/** About how often a keep-alive tick comes: an interval is cut into slices of this length. */
const SLICE_MS = 1_000;
/** At most this many slices, however long the interval. */
const MAX_SLICES = 60;

/**
 * A route's keep-alive, a slice at a time: every item (socket, event stream) is visited once per
 * interval, as with one timer for all of them, but not all in the same tick. Items join the
 * slices in turn and one slice is visited per tick, about every second. With one round for all,
 * 1,000 sockets took 6.6–10 ms of the server's core every 12 s for their pings (and as long again
 * for the pongs), and whatever was being delivered then waited for them; a slice costs a twelfth
 * of that, every second. An interval of about one slice or less is one round, as before.
 */
export class KeepAliveRounds<T> {
  private readonly slices: Array<Set<T>>;
  /** The slice the next item joins. */
  private joining = 0;
  /** The slice the next tick visits. */
  private turn = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number, visit: (item: T) => void) {
    const count = Math.min(MAX_SLICES, Math.max(1, Math.round(intervalMs / SLICE_MS)));
    this.slices = Array.from({ length: count }, () => new Set<T>());
    this.timer = setInterval(() => {
      const slice = this.slices[this.turn] as Set<T>;
      this.turn = (this.turn + 1) % count;
      for (const item of slice) visit(item);
    }, intervalMs / count);
    this.timer.unref();
  }

  /** Takes an item into the rounds: it is first visited within one interval. */
  add(item: T): void {
    (this.slices[this.joining] as Set<T>).add(item);
    this.joining = (this.joining + 1) % this.slices.length;
  }

  /** Leaves an item out of the rounds from now on. */
  delete(item: T): void {
    // A few dozen set lookups once per close, rather than a slice kept per item.
    for (const slice of this.slices) if (slice.delete(item)) return;
  }

  /** Items in the rounds. */
  get size(): number {
    let size = 0;
    for (const slice of this.slices) size += slice.size;
    return size;
  }

  /** Stops the ticks. */
  dispose(): void {
    clearInterval(this.timer);
  }
}
