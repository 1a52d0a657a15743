/**
 * Where streamgate's subjects live in Redis (DESIGN.md: each backend maps subjects in one
 * place). Subjects are Redis pub/sub channels 1:1, so a plain `PUBLISH processor.state.x …`
 * reaches subscribers; everything else streamgate keeps sits under one key prefix.
 */
export interface RedisNames {
  /** The pub/sub channel of a subject. */
  channel(subject: string): string;
  /** The PSUBSCRIBE glob for a pattern (coarser than NATS rules: results are filtered). */
  glob(pattern: string): string;
  /** The Redis stream holding a retained window. */
  windowStream(pattern: string): string;
  /** Hash of retained windows: pattern → limits, shared by every instance. */
  readonly windowRegistry: string;
  /** Channel announcing a new or changed window, so other instances reload the registry. */
  readonly windowAnnouncements: string;
  /** Channel requests to a subject travel on (kept apart so PUBLISH counts only responders). */
  requestChannel(subject: string): string;
  /** The PSUBSCRIBE glob of the request channels of a pattern. */
  requestGlob(pattern: string): string;
  /** The subject of a request channel, or undefined for another channel. */
  subjectOfRequestChannel(channel: string): string | undefined;
  /** Reply channel of one broker connection. */
  inbox(id: string): string;
  /** The key a queue group sets to claim one message. */
  claim(queue: string, messageId: string): string;
}

/** The names under `prefix` (REDIS_KEY_PREFIX, "streamgate:" by default). */
export function redisNames(prefix: string): RedisNames {
  return {
    channel: (subject) => subject,
    glob: (pattern) => toGlob(pattern),
    windowStream: (pattern) => `${prefix}window:${pattern}`,
    windowRegistry: `${prefix}windows`,
    windowAnnouncements: `${prefix}windows:changed`,
    requestChannel: (subject) => `${prefix}request:${subject}`,
    requestGlob: (pattern) => `${escapeGlob(`${prefix}request:`)}${toGlob(pattern)}`,
    subjectOfRequestChannel: (channel) =>
      channel.startsWith(`${prefix}request:`) ? channel.slice(`${prefix}request:`.length) : undefined,
    inbox: (id) => `${prefix}inbox:${id}`,
    claim: (queue, messageId) => `${prefix}claim:${queue}:${messageId}`,
  };
}

/** True when a pattern needs PSUBSCRIBE (it has wildcards). */
export function hasWildcards(pattern: string): boolean {
  return pattern.split('.').some((token) => token === '*' || token === '>');
}

/** `a.*.c` → `a.*.c`, `a.>` → `a.*`; glob characters inside tokens are escaped. */
function toGlob(pattern: string): string {
  return pattern
    .split('.')
    .map((token) => (token === '*' || token === '>' ? '*' : escapeGlob(token)))
    .join('.');
}

function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]]/g, (char) => `\\${char}`);
}
