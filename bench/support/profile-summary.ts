/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and prints self time by function and by group
 * (execution, wrappers, serialization, writes, GC, …), counting only the samples inside the
 * measured windows that bench/fanout.ts writes beside the profile (windows.json), so start-up
 * and set-up do not blur the picture.
 *
 *   npx tsx bench/support/profile-summary.ts /tmp/prof [window name substring] [top N]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

interface Window {
  readonly name: string;
  readonly startMicros: number;
  readonly endMicros: number;
}

/** Groups, first match wins; `test` sees "functionName url". */
const GROUPS: ReadonlyArray<{ readonly name: string; readonly test: RegExp }> = [
  { name: 'GC', test: /^\(garbage collector\)/ },
  { name: 'idle', test: /^\(idle\)/ },
  { name: 'program (native, unattributed)', test: /^\(program\)/ },
  {
    name: 'writes (ws sender, sockets, syscalls)',
    test: /ws\/lib\/(sender|buffer-util)|node:net|stream_base_commons|internal\/streams\/writable|^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeGeneric|writevGeneric|handleWriteReq|cork|uncork) /,
  },
  {
    name: 'serialization (JSON, scalars, dates)',
    test: /^(stringify|stringifyMessage|parse|JSON\.\w+|toISOString|toJSON|serialize\w*|parseValue|parseLiteral|parseRfc3339|timeOf|Date) |src\/schema\/scalars|monitor-time/,
  },
  {
    name: 'wrappers (async iterators, promises, plugins, observers)',
    test: /^runMicrotasks |observed-stream|map-subscription|interruption|shutdown-plugin|token-expiry|subscription-queue|message-fifo|repeater|@envelop|instrumentation|subscription-metrics|limits-plugins|flattenAsyncIterable|ensureAsyncIterable|mapAsyncIterator|promise-helpers|AsyncGenerator|asyncIterator|graphql-ws-socket|ws-writable|bounded-send/,
  },
  {
    name: 'execution (graphql-js/executor, resolvers, pothos)',
    test: /graphql\/(execution|jsutils|type|language|validation|utilities)|@graphql-tools\/(executor|utils)|@pothos|src\/(schema|resolvers)\//,
  },
  { name: 'graphql-ws server (protocol)', test: /graphql-ws\/dist/ },
  { name: 'ws receive / http', test: /ws\/lib|node:_http|node:http|undici|llhttp/ },
  { name: 'broker / domain', test: /src\/(pubsub|domain)\// },
  {
    name: 'database (pg, prisma)',
    test: /^\S+ (pg|pg-protocol|@prisma|\.prisma)\/|generated\/prisma|wasm:\/\//,
  },
  { name: 'node internals', test: /node:/ },
];

function groupOf(key: string): string {
  return GROUPS.find((group) => group.test.test(key))?.name ?? 'other';
}

function shortUrl(url: string): string {
  return url
    .replace(/^file:\/\//, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^\/work\/[^/]+\//, '');
}

function profilesIn(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(path, name));
}

function windowsIn(path: string, filter: string | undefined): Window[] | undefined {
  if (!statSync(path).isDirectory()) return undefined;
  try {
    const all = JSON.parse(readFileSync(join(path, 'windows.json'), 'utf8')) as Window[];
    return all.filter((window) => filter === undefined || window.name.includes(filter));
  } catch {
    return undefined;
  }
}

/** Self time (µs) per function key inside the windows (all samples when there are none). */
export function selfTimes(profile: CpuProfile, windows: readonly Window[] | undefined): Map<string, number> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const times = new Map<string, number>();
  let at = profile.startTime;
  for (let index = 0; index < profile.samples.length; index++) {
    const delta = profile.timeDeltas[index] ?? 0;
    at += delta;
    if (windows && !windows.some((window) => at >= window.startMicros && at <= window.endMicros)) continue;
    const node = byId.get(profile.samples[index] as number);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
    // The sample's weight is the time until the next one.
    const weight = profile.timeDeltas[index + 1] ?? delta;
    times.set(key, (times.get(key) ?? 0) + weight);
  }
  return times;
}

/** Prints groups and the top functions as Markdown tables. */
export function summarize(path: string, windowFilter?: string, top = 30): string {
  const windows = windowsIn(path, windowFilter);
  const totals = new Map<string, number>();
  for (const file of profilesIn(path)) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    for (const [key, micros] of selfTimes(profile, windows)) totals.set(key, (totals.get(key) ?? 0) + micros);
  }
  const busy = [...totals].filter(([key]) => !key.startsWith('(idle)'));
  const total = busy.reduce((sum, [, micros]) => sum + micros, 0);
  const groups = new Map<string, number>();
  for (const [key, micros] of busy) groups.set(groupOf(key), (groups.get(groupOf(key)) ?? 0) + micros);
  const percent = (micros: number) => `${((100 * micros) / total).toFixed(1)} %`;
  const lines = [
    `Busy samples: ${(total / 1000).toFixed(0)} ms` +
      (windows ? ` in ${windows.map((window) => window.name).join(', ')}` : ' (whole profile)'),
    '',
    '| group | self time | share |',
    '| ----- | --------: | ----: |',
    ...[...groups]
      .sort((a, b) => b[1] - a[1])
      .map(([name, micros]) => `| ${name} | ${(micros / 1000).toFixed(0)} ms | ${percent(micros)} |`),
    '',
    '| function (file:line) | group | self | share |',
    '| -------------------- | ----- | ---: | ----: |',
    ...busy
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([key, micros]) =>
          `| \`${key.replace(/\|/g, '\\|')}\` | ${groupOf(key)} | ${(micros / 1000).toFixed(0)} ms | ${percent(micros)} |`,
      ),
  ];
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, windowFilter, top] = process.argv.slice(2);
  if (!path) {
    process.stderr.write('usage: profile-summary.ts <profile file or dir> [window filter] [top N]\n');
    process.exit(2);
  }
  console.log(summarize(path, windowFilter || undefined, top ? Number(top) : 30));
}
