/** Something that gathers frames and writes them in one go. */
export interface Flushable {
  flush(): void;
}

/**
 * Write coalescing: whatever is marked during one tick is flushed once, after the tick's
 * events have all been handed out, so a burst of frames costs one write per socket or response.
 * A marked item is flushed once per mark; the items themselves skip a flush with nothing pending.
 */
export class TickFlush<T extends Flushable> {
  private pending: T[] = [];
  private scheduled = false;

  /** Marks an item written in this tick; one flush after the tick writes them all. */
  mark(item: T): void {
    this.pending.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes every item marked so far (also before closing at shutdown). */
  flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = [];
    for (const item of pending) item.flush();
  }
}
