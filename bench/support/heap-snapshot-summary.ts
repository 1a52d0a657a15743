/**
 * What a V8 heap snapshot holds, by constructor: object count and self size per name, and the
 * difference between two snapshots (what grew between them). Enough to see which kind of
 * object a leak retains; open the snapshots in Chrome DevTools for the retaining paths.
 *
 *   npx tsx bench/support/heap-snapshot-summary.ts before.heapsnapshot after.heapsnapshot [rows]
 */
import { readFileSync } from 'node:fs';
import { formatTable } from './latency-stats.ts';

export interface ConstructorTotals {
  readonly count: number;
  readonly bytes: number;
}

interface SnapshotFile {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: unknown[] } };
  readonly nodes: number[];
  readonly strings: string[];
}

/** Count and self size per constructor (objects), or per kind in parentheses (strings, code, arrays…). */
export function summarizeHeapSnapshot(file: string): Map<string, ConstructorTotals> {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as SnapshotFile;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const totals = new Map<string, { count: number; bytes: number }>();
  const { nodes, strings } = snapshot;
  for (let index = 0; index < nodes.length; index += width) {
    const type = types[nodes[index + typeAt] as number] ?? 'unknown';
    const key =
      type === 'object' || type === 'closure'
        ? `${strings[nodes[index + nameAt] as number]}${type === 'closure' ? '()' : ''}`
        : `(${type})`;
    const entry = totals.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += nodes[index + sizeAt] as number;
    totals.set(key, entry);
  }
  return totals;
}

export interface ConstructorGrowth {
  readonly name: string;
  readonly countBefore: number;
  readonly countAfter: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/** Constructors whose count or size grew from `before` to `after`, largest size growth first. */
export function heapGrowth(
  before: Map<string, ConstructorTotals>,
  after: Map<string, ConstructorTotals>,
): ConstructorGrowth[] {
  const rows: ConstructorGrowth[] = [];
  for (const [name, totals] of after) {
    const earlier = before.get(name) ?? { count: 0, bytes: 0 };
    if (totals.count > earlier.count || totals.bytes > earlier.bytes)
      rows.push({
        name,
        countBefore: earlier.count,
        countAfter: totals.count,
        bytesBefore: earlier.bytes,
        bytesAfter: totals.bytes,
      });
  }
  return rows.sort((a, b) => b.bytesAfter - b.bytesBefore - (a.bytesAfter - a.bytesBefore));
}

/** A printable table of the first `limit` rows of heapGrowth. */
export function formatHeapGrowth(rows: readonly ConstructorGrowth[], limit = 25): string {
  const kb = (bytes: number) => (bytes / 1024).toFixed(1);
  return formatTable(
    ['constructor', 'count before', 'count after', 'Δ count', 'KB before', 'KB after', 'Δ KB'],
    rows
      .slice(0, limit)
      .map((row) => [
        row.name.slice(0, 60),
        String(row.countBefore),
        String(row.countAfter),
        String(row.countAfter - row.countBefore),
        kb(row.bytesBefore),
        kb(row.bytesAfter),
        kb(row.bytesAfter - row.bytesBefore),
      ]),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [before, after, rows] = process.argv.slice(2);
  if (!before || !after) {
    process.stderr.write('usage: heap-snapshot-summary.ts BEFORE.heapsnapshot AFTER.heapsnapshot [rows]\n');
    process.exit(2);
  }
  console.log(
    formatHeapGrowth(
      heapGrowth(summarizeHeapSnapshot(before), summarizeHeapSnapshot(after)),
      Number(rows) || 40,
    ),
  );
}
