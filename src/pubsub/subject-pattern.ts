import { subjectProblem } from '../config/subject-syntax.ts';
import { InvalidSubjectError } from './errors.ts';

/** Checks a concrete subject: non-empty tokens, no wildcards, no white space. */
export function assertSubject(subject: string): void {
  validateTokens(subject, false);
}

/** Checks a pattern: like a subject, plus `*` as a whole token and `>` as the last token. */
export function assertPattern(pattern: string): void {
  validateTokens(pattern, true);
}

function validateTokens(text: string, wildcards: boolean): void {
  const problem = subjectProblem(text, wildcards);
  if (problem !== undefined) throw new InvalidSubjectError(text, problem);
}

/** True when `subject` matches `pattern` (`*` one token, `>` one or more). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const patternTokens = pattern.split('.');
  const subjectTokens = subject.split('.');
  for (let index = 0; index < patternTokens.length; index++) {
    const token = patternTokens[index];
    if (token === '>') return subjectTokens.length > index;
    if (index >= subjectTokens.length) return false;
    if (token !== '*' && token !== subjectTokens[index]) return false;
  }
  return patternTokens.length === subjectTokens.length;
}

interface TrieNode<T> {
  readonly children: Map<string, TrieNode<T>>;
  readonly values: Set<T>;
  /** Values whose pattern ends in `>` at this node. */
  readonly rest: Set<T>;
}

function newNode<T>(): TrieNode<T> {
  return { children: new Map(), values: new Set(), rest: new Set() };
}

/**
 * Patterns indexed by token, so finding the subscribers of a subject costs O(subject tokens ×
 * matching branches), not O(all patterns).
 */
export class SubjectTrie<T> {
  private readonly root = newNode<T>();
  private changes = 0;

  /** Changes with every add and remove: a match made at one version holds while it stays. */
  get version(): number {
    return this.changes;
  }

  add(pattern: string, value: T): void {
    this.changes += 1;
    let node = this.root;
    for (const token of pattern.split('.')) {
      if (token === '>') {
        node.rest.add(value);
        return;
      }
      let child = node.children.get(token);
      if (!child) {
        child = newNode();
        node.children.set(token, child);
      }
      node = child;
    }
    node.values.add(value);
  }

  remove(pattern: string, value: T): void {
    this.changes += 1;
    const path: Array<[TrieNode<T>, string]> = [];
    let node: TrieNode<T> | undefined = this.root;
    for (const token of pattern.split('.')) {
      if (token === '>') {
        node.rest.delete(value);
        break;
      }
      path.push([node, token]);
      node = node.children.get(token);
      if (!node) return;
    }
    if (!pattern.endsWith('>')) node.values.delete(value);
    // Prune empty branches so that a long-running process with churning subjects stays small.
    for (let index = path.length - 1; index >= 0; index--) {
      const [parent, token] = path[index] as [TrieNode<T>, string];
      const child = parent.children.get(token);
      if (!child || child.children.size > 0 || child.values.size > 0 || child.rest.size > 0) break;
      parent.children.delete(token);
    }
  }

  /** Every value whose pattern matches the concrete subject. */
  match(subject: string): Set<T> {
    const found = new Set<T>();
    this.collect(this.root, subject.split('.'), 0, found);
    return found;
  }

  private collect(node: TrieNode<T>, tokens: readonly string[], index: number, found: Set<T>): void {
    if (index < tokens.length) for (const value of node.rest) found.add(value);
    if (index === tokens.length) {
      for (const value of node.values) found.add(value);
      return;
    }
    const token = tokens[index] as string;
    const exact = node.children.get(token);
    if (exact) this.collect(exact, tokens, index + 1, found);
    const any = node.children.get('*');
    if (any) this.collect(any, tokens, index + 1, found);
  }
}

/** True when every subject that `inner` matches is matched by `outer` too. */
export function patternCovers(outer: string, inner: string): boolean {
  const outerTokens = outer.split('.');
  const innerTokens = inner.split('.');
  for (let index = 0; index < innerTokens.length; index++) {
    const token = outerTokens[index];
    if (token === '>') return true;
    if (token === undefined) return false;
    const innerToken = innerTokens[index] as string;
    if (innerToken === '>') return false;
    if (token === '*') continue;
    if (innerToken === '*' || innerToken !== token) return false;
  }
  return outerTokens.length === innerTokens.length;
}
