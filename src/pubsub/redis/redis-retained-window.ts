import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { BrokerMessage, MessageHeaders, RetainOptions } from '../broker.ts';
import { patternCovers, subjectMatches } from '../subject-pattern.ts';
import { ENVELOPE_MAGIC, type EnvelopeMeta, parseMeta } from './redis-envelope.ts';
import type { RedisNames } from './redis-subject-mapping.ts';

/**
 * One atomic step per publish: append the message to every window stream that retains its
 * subject (trimmed to the window's count and age), then PUBLISH it with the stream ids in its
 * envelope. Being one script is what makes the replay/live seam exact: a message is either in
 * the stream when a reader's XRANGE runs, or published after it, and its id tells which.
 *
 * KEYS: window streams. ARGV: magic, channel, meta JSON, payload, then per key: pattern,
 * max age ms, max messages (0 = unlimited). Returns the positions as JSON {pattern: id}.
 */
const PUBLISH_SCRIPT = `
local meta = cjson.decode(ARGV[3])
local payload = ARGV[4]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local positions = {}
local retained = false
for index, key in ipairs(KEYS) do
  local base = 4 + (index - 1) * 3
  local maxAge = tonumber(ARGV[base + 2])
  local maxMessages = tonumber(ARGV[base + 3])
  local id
  if maxMessages > 0 then
    id = redis.call('XADD', key, 'MAXLEN', maxMessages, '*', 'm', ARGV[3], 'd', payload)
  else
    id = redis.call('XADD', key, '*', 'm', ARGV[3], 'd', payload)
  end
  redis.call('XTRIM', key, 'MINID', (now - maxAge) .. '-0')
  -- A window nobody writes to any more disappears once all of it is too old.
  redis.call('PEXPIRE', key, maxAge + 60000)
  positions[ARGV[base + 1]] = id
  retained = true
end
meta['t'] = now
if retained then meta['p'] = positions end
local text = cjson.encode(meta)
redis.call('PUBLISH', ARGV[2], ARGV[1] .. struct.pack('>I4', #text) .. text .. payload)
if retained then return cjson.encode(positions) end
return '{}'
`;
const PUBLISH_SCRIPT_SHA = createHash('sha1').update(PUBLISH_SCRIPT).digest('hex');
const REPLAY_PAGE = 500;

interface WindowLimits {
  readonly maxAgeMs: number;
  readonly maxMessages?: number;
}

/**
 * Retained windows on Redis Streams: one stream per retained pattern, and a registry hash all
 * instances share, so that whichever instance publishes appends to the right streams.
 */
export class RedisRetainedWindows {
  private windows = new Map<string, WindowLimits>();

  constructor(
    private readonly redis: Redis,
    private readonly names: RedisNames,
  ) {
    // `redis` is connected already: every later 'ready' is a reconnect.
    this.loadScript();
    redis.on('ready', () => this.loadScript());
  }

  /**
   * Loads the publish script into Redis's script cache, now, ahead of any publish on this
   * connection. Redis starts with an empty cache (a restart, a failover to another server): the
   * `EVALSHA`s of a pipelined batch would fail with NOSCRIPT and be sent again as `EVAL`, each
   * once its failure is back — and had another client loaded the script between two of them,
   * the batch's later messages would run first (Broker.publishMany's order after a failure).
   * Called from 'ready' synchronously, so the `SCRIPT LOAD` is the connection's first command
   * after it, and Redis runs a connection's commands in order. Not awaited by publishes: one
   * that fails (the connection lost again, a user without SCRIPT permission) leaves the NOSCRIPT
   * fallback below, as before; the next 'ready' loads it again. An operator's SCRIPT FLUSH
   * without a reconnect still takes the fallback.
   */
  private loadScript(): void {
    this.redis.script('LOAD', PUBLISH_SCRIPT).catch(() => undefined);
  }

  /** Reads the registry (at start-up, and when another instance announces a change). */
  async refresh(): Promise<void> {
    const registry = await this.redis.hgetall(this.names.windowRegistry);
    const windows = new Map<string, WindowLimits>();
    for (const [pattern, text] of Object.entries(registry)) {
      const limits = parseLimits(text);
      if (limits) windows.set(pattern, limits);
    }
    this.windows = windows;
  }

  async retain(pattern: string, options: RetainOptions): Promise<void> {
    const limits: WindowLimits = { maxAgeMs: options.maxAgeMs, maxMessages: options.maxMessages };
    await this.redis.hset(this.names.windowRegistry, pattern, JSON.stringify(limits));
    this.windows.set(pattern, limits);
    await this.redis.publish(this.names.windowAnnouncements, pattern);
  }

  /** The window that serves subscribers of `pattern` (the same one on every instance). */
  covering(pattern: string): string | undefined {
    return [...this.windows.keys()].sort().find((window) => patternCovers(window, pattern));
  }

  async find(pattern: string): Promise<string | undefined> {
    const known = this.covering(pattern);
    if (known !== undefined) return known;
    await this.refresh();
    return this.covering(pattern);
  }

  /** Publishes through the script; resolves with the message's positions by window. */
  async publish(
    channel: string,
    subject: string,
    meta: EnvelopeMeta,
    payload: Uint8Array,
  ): Promise<Record<string, string>> {
    const matching = [...this.windows].filter(([pattern]) => subjectMatches(pattern, subject));
    const keys = matching.map(([pattern]) => this.names.windowStream(pattern));
    const args = [
      ENVELOPE_MAGIC,
      channel,
      JSON.stringify(meta),
      Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      ...matching.flatMap(([pattern, limits]) => [pattern, limits.maxAgeMs, limits.maxMessages ?? 0]),
    ];
    let result: unknown;
    try {
      result = await this.redis.evalsha(PUBLISH_SCRIPT_SHA, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
      result = await this.redis.eval(PUBLISH_SCRIPT, keys.length, ...keys, ...args);
    }
    return parsePositions(result);
  }

  /** The id of the newest entry of a window stream (`0-0` when it is empty or gone). */
  async lastId(window: string): Promise<string> {
    const [newest] = await this.redis.xrevrange(this.names.windowStream(window), '+', '-', 'COUNT', 1);
    return newest?.[0] ?? '0-0';
  }

  /**
   * The retained messages of `pattern` in `window` from a start id (`(id` exclusive, `ms-0`
   * inclusive), oldest first, page by page; what the window's age has dropped is skipped.
   */
  async replay(window: string, pattern: string, start: string): Promise<BrokerMessage[]> {
    const key = this.names.windowStream(window);
    const oldest = Date.now() - (this.windows.get(window)?.maxAgeMs ?? Number.POSITIVE_INFINITY);
    const messages: BrokerMessage[] = [];
    let from = start;
    for (;;) {
      const page = await this.redis.xrangeBuffer(key, from, '+', 'COUNT', REPLAY_PAGE);
      for (const [idBuffer, fields] of page) {
        const id = idBuffer.toString();
        const message = entryToMessage(id, fields);
        if (message && message.timestamp.getTime() >= oldest && subjectMatches(pattern, message.subject)) {
          messages.push(message);
        }
        from = `(${id}`;
      }
      if (page.length < REPLAY_PAGE) return messages;
    }
  }
}

/** Orders stream ids (`ms-seq`): negative when a is older. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs === bMs ? aSeq - bSeq : aMs - bMs;
}

function entryToMessage(id: string, fields: Buffer[]): BrokerMessage | undefined {
  let meta: EnvelopeMeta | undefined;
  let payload: Buffer | undefined;
  for (let index = 0; index + 1 < fields.length; index += 2) {
    const name = fields[index]?.toString();
    if (name === 'm') meta = parseMeta((fields[index + 1] as Buffer).toString('utf8'));
    if (name === 'd') payload = fields[index + 1];
  }
  if (!meta?.s || !payload) return undefined;
  const headers: MessageHeaders = meta.h ?? {};
  return {
    subject: meta.s,
    payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength),
    headers,
    timestamp: new Date(Number(id.split('-')[0])),
    position: id,
  };
}

function parseLimits(text: string): WindowLimits | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    const { maxAgeMs, maxMessages } = value as Record<string, unknown>;
    if (typeof maxAgeMs !== 'number') return undefined;
    return { maxAgeMs, maxMessages: typeof maxMessages === 'number' ? maxMessages : undefined };
  } catch {
    return undefined;
  }
}

function parsePositions(result: unknown): Record<string, string> {
  if (typeof result !== 'string') return {};
  const value: unknown = JSON.parse(result);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}
