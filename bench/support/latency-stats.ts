/** The value below which `fraction` of the sorted samples fall (nearest rank). */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Prints rows as an aligned text table. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padStart(widths[column] ?? 0)).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

/** One sampled delivery of a message, identified by its publish time (see LatencySample). */
interface MessageSample {
  readonly sentAt: number;
  readonly latencyMs: number;
}

/**
 * The latency run per message rather than per sample: when each message reached its earliest
 * sampled subscriber ("first") and its latest ("last"), as p50/p99 across messages, and how many
 * messages had any sample over `slowMs`. A late first delivery means the message started late
 * (queued behind the previous one, or for the database); a late last one with an early first
 * means its own writes to every socket (and their reads) took long, which the spread (last minus
 * first of the same message) shows apart from the start.
 */
export interface MessageBreakdown {
  readonly messages: number;
  readonly firstP50Ms: number;
  readonly firstP99Ms: number;
  readonly lastP50Ms: number;
  readonly lastP99Ms: number;
  /** Last minus first of each message: how long its deliveries to the sampled subscribers took. */
  readonly spreadP50Ms: number;
  readonly spreadP99Ms: number;
  /** Messages with at least one sampled delivery over `slowMs`. */
  readonly slowMessages: number;
  /** Of those, the messages whose first sampled delivery was already over `slowMs`. */
  readonly slowFromTheStart: number;
}

/** Groups samples by their message (`sentAt`, unique per publish) and sums them up per message. */
export function messageBreakdown(samples: readonly MessageSample[], slowMs: number): MessageBreakdown {
  const spans = new Map<number, { first: number; last: number }>();
  for (const { sentAt, latencyMs } of samples) {
    const span = spans.get(sentAt);
    if (span === undefined) spans.set(sentAt, { first: latencyMs, last: latencyMs });
    else {
      span.first = Math.min(span.first, latencyMs);
      span.last = Math.max(span.last, latencyMs);
    }
  }
  const sorted = (values: Iterable<number>) => [...values].sort((a, b) => a - b);
  const firsts = sorted([...spans.values()].map((span) => span.first));
  const lasts = sorted([...spans.values()].map((span) => span.last));
  const spreads = sorted([...spans.values()].map((span) => span.last - span.first));
  return {
    messages: spans.size,
    firstP50Ms: percentile(firsts, 0.5),
    firstP99Ms: percentile(firsts, 0.99),
    lastP50Ms: percentile(lasts, 0.5),
    lastP99Ms: percentile(lasts, 0.99),
    spreadP50Ms: percentile(spreads, 0.5),
    spreadP99Ms: percentile(spreads, 0.99),
    slowMessages: lasts.filter((last) => last > slowMs).length,
    slowFromTheStart: firsts.filter((first) => first > slowMs).length,
  };
}
