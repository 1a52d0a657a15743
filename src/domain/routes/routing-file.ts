import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { ConfigError } from '../../config/config.ts';
import { assertSubject } from '../../pubsub/subject-pattern.ts';
import { parseSelector } from './selector.ts';

/** One route as the routing file declares it (legacy.md B: `messageConfig.routes[]`). */
export interface FileRoute {
  readonly selector: string;
  readonly subject: string;
  readonly name: string | null;
  readonly url: string | null;
  readonly queue: string | null;
  /** Stable across restarts: from `name`, else from selector and subject. */
  readonly id: string;
}

/**
 * A routing file that cannot be used, with the line and the reason. A ConfigError, so start-up
 * stops with exit code 2 like any other bad setting.
 */
export class RoutingFileError extends ConfigError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super([
      { variable: 'ROUTING_FILE', value: file, expected: `a valid routing file; line ${line}: ${reason}` },
    ]);
    this.name = 'RoutingFileError';
  }
}

/** Reads and checks ROUTING_FILE; every problem names the line. */
export async function readRoutingFile(file: string): Promise<FileRoute[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RoutingFileError(file, 0, `cannot be read: ${(error as Error).message}`);
  }
  return parseRoutingFile(text, file);
}

const OPTIONAL_KEYS = ['name', 'url', 'queue'] as const;

/** Parses the YAML text of a routing file. */
export function parseRoutingFile(text: string, file: string): FileRoute[] {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const [syntax] = document.errors;
  if (syntax) {
    const line = lineCounter.linePos(syntax.pos[0]).line;
    throw new RoutingFileError(file, line, firstLine(syntax.message));
  }
  const lineOf = (node: Node | null | undefined): number =>
    node?.range ? lineCounter.linePos(node.range[0]).line : 1;
  const fail = (node: Node | null | undefined, reason: string): never => {
    throw new RoutingFileError(file, lineOf(node), reason);
  };

  const root = document.contents;
  if (!isMap(root)) return fail(root, 'expected a mapping with messageConfig.routes');
  const messageConfig = root.get('messageConfig', true);
  if (!isMap(messageConfig)) return fail(messageConfig ?? root, 'expected messageConfig to be a mapping');
  const routes = messageConfig.get('routes', true);
  if (routes == null || (isScalar(routes) && routes.value == null)) return [];
  if (!isSeq(routes)) return fail(routes, 'expected messageConfig.routes to be a list');

  const seenIds = new Map<string, number>();
  const seenPairs = new Map<string, number>();
  return routes.items.map((item, index) => {
    const where = `messageConfig.routes[${index}]`;
    if (!isMap(item)) return fail(item as Node, `${where}: expected a mapping with selector and subject`);
    const selector = requiredString(item, 'selector', where, fail);
    const subject = requiredString(item, 'subject', where, fail);
    try {
      parseSelector(selector);
    } catch (error) {
      fail(item.get('selector', true) as Node, `${where}.selector: ${(error as Error).message}`);
    }
    try {
      assertSubject(subject);
    } catch (error) {
      fail(item.get('subject', true) as Node, `${where}.subject: ${(error as Error).message}`);
    }
    const [name, url, queue] = OPTIONAL_KEYS.map((key) => optionalString(item, key, where, fail));
    const line = lineOf(item);
    const pair = `${selector}\u0000${subject}`;
    const pairLine = seenPairs.get(pair);
    if (pairLine !== undefined) {
      fail(item, `${where}: repeats the route "${selector}" → "${subject}" of line ${pairLine}`);
    }
    seenPairs.set(pair, line);
    const id = fileRouteId(name ?? null, selector, subject);
    const idLine = seenIds.get(id);
    if (idLine !== undefined) fail(item, `${where}: the name "${name}" is already used on line ${idLine}`);
    seenIds.set(id, line);
    return { id, selector, subject, name: name ?? null, url: url ?? null, queue: queue ?? null };
  });
}

/** The id a file route gets: readable, and the same at every start-up. */
export function fileRouteId(name: string | null, selector: string, subject: string): string {
  return name ? `route:${name}` : `route:${selector}->${subject}`;
}

type Fail = (node: Node | null | undefined, reason: string) => never;

function requiredString(item: YAMLMap, key: string, where: string, fail: Fail): string {
  const node = item.get(key, true);
  if (node === undefined) return fail(item, `${where}: "${key}" is missing`);
  if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') {
    return fail(node as Node, `${where}.${key}: expected a non-empty string`);
  }
  return node.value.trim();
}

function optionalString(item: YAMLMap, key: string, where: string, fail: Fail): string | undefined {
  const node = item.get(key, true);
  if (node === undefined || (isScalar(node) && node.value == null)) return undefined;
  if (!isScalar(node) || typeof node.value !== 'string') {
    return fail(node as Node, `${where}.${key}: expected a string`);
  }
  return node.value;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
