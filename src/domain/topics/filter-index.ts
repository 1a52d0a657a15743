import { MISSING, resolvePath } from './field-path.ts';
import { equalityKey } from './json-equality.ts';
import { type CompiledFilter, type FilterTerm, matchesTerm } from './message-filter.ts';

interface Entry<Subscriber> {
  readonly subscriber: Subscriber;
  /** The terms still to check once the index has picked the entry. */
  readonly rest: readonly FilterTerm[];
  readonly indexed: { readonly pathKey: string; readonly keys: readonly string[] } | null;
}

interface PathIndex<Subscriber> {
  readonly segments: readonly string[];
  readonly byValue: Map<string, Set<Entry<Subscriber>>>;
  size: number;
}

/**
 * The subscribers of one topic, organised so that one message costs work in proportion to the
 * subscribers it matches (DESIGN.md decision 4). Each filter with an equality term (`equals`,
 * `eq`, or `in`) is filed under that field's value: a message looks up its own value of each
 * indexed field once and meets only the subscribers filed under it. Filters without one, and
 * subscribers without a filter, are checked one by one (the latter need no check at all).
 */
export class FilterIndex<Subscriber> {
  private readonly entries = new Map<Subscriber, Entry<Subscriber>>();
  private readonly paths = new Map<string, PathIndex<Subscriber>>();
  private readonly unfiltered = new Set<Entry<Subscriber>>();
  private readonly scanned = new Set<Entry<Subscriber>>();

  get size(): number {
    return this.entries.size;
  }

  /** Distinct fields the index is keyed on (each costs one lookup per message). */
  get indexedFields(): number {
    return this.paths.size;
  }

  /** Every subscriber, in no particular order. */
  subscribers(): Subscriber[] {
    return [...this.entries.keys()];
  }

  add(subscriber: Subscriber, filter: CompiledFilter): void {
    this.remove(subscriber);
    const chosen = this.chooseIndexTerm(filter.terms);
    if (!chosen) {
      const entry: Entry<Subscriber> = { subscriber, rest: filter.terms, indexed: null };
      this.entries.set(subscriber, entry);
      (filter.terms.length === 0 ? this.unfiltered : this.scanned).add(entry);
      return;
    }
    const pathKey = chosen.path.join('.');
    const keys = [
      ...new Set(chosen.op === 'in' ? chosen.values.map(equalityKey) : [equalityKey(chosen.value)]),
    ];
    const entry: Entry<Subscriber> = {
      subscriber,
      rest: filter.terms.filter((term) => term !== chosen),
      indexed: { pathKey, keys },
    };
    this.entries.set(subscriber, entry);
    let index = this.paths.get(pathKey);
    if (!index) {
      index = { segments: chosen.path, byValue: new Map(), size: 0 };
      this.paths.set(pathKey, index);
    }
    index.size += 1;
    for (const key of keys) {
      let bucket = index.byValue.get(key);
      if (!bucket) {
        bucket = new Set();
        index.byValue.set(key, bucket);
      }
      bucket.add(entry);
    }
  }

  remove(subscriber: Subscriber): void {
    const entry = this.entries.get(subscriber);
    if (!entry) return;
    this.entries.delete(subscriber);
    if (!entry.indexed) {
      this.unfiltered.delete(entry);
      this.scanned.delete(entry);
      return;
    }
    const index = this.paths.get(entry.indexed.pathKey);
    if (!index) return;
    for (const key of entry.indexed.keys) {
      const bucket = index.byValue.get(key);
      bucket?.delete(entry);
      if (bucket?.size === 0) index.byValue.delete(key);
    }
    index.size -= 1;
    if (index.size === 0) this.paths.delete(entry.indexed.pathKey);
  }

  /** Calls `visit` once for every subscriber whose filter the message data passes. */
  match(data: unknown, visit: (subscriber: Subscriber) => void): void {
    for (const entry of this.unfiltered) visit(entry.subscriber);
    for (const entry of this.scanned) if (passesRest(entry, data)) visit(entry.subscriber);
    for (const index of this.paths.values()) {
      const value = resolvePath(data, index.segments);
      if (value === MISSING) continue;
      const bucket = index.byValue.get(equalityKey(value));
      if (!bucket) continue;
      for (const entry of bucket) if (passesRest(entry, data)) visit(entry.subscriber);
    }
  }

  /**
   * An equality term to file the filter under: one on a field already indexed if there is one
   * (fewer fields mean fewer lookups per message), else the first `eq`, else the first `in`.
   */
  private chooseIndexTerm(
    terms: readonly FilterTerm[],
  ): Extract<FilterTerm, { op: 'eq' | 'in' }> | undefined {
    const candidates = terms.filter(
      (term): term is Extract<FilterTerm, { op: 'eq' | 'in' }> => term.op === 'eq' || term.op === 'in',
    );
    return (
      candidates.find((term) => this.paths.has(term.path.join('.'))) ??
      candidates.find((term) => term.op === 'eq') ??
      candidates[0]
    );
  }
}

function passesRest<Subscriber>(entry: Entry<Subscriber>, data: unknown): boolean {
  for (const term of entry.rest) if (!matchesTerm(term, data)) return false;
  return true;
}
