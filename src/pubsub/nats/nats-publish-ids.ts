/**
 * The JetStream message ids that chain the messages of a batch publish to one stream
 * (nats-publish-acks.ts): every message carries `Nats-Msg-Id`, every one after the first of its
 * stream `Nats-Expected-Last-Msg-Id` naming its predecessor's. The ids are streamgate's own
 * (a random prefix per connection, then a counter), never the publisher's, so readers drop them.
 */
import { randomBytes } from 'node:crypto';

export const MSG_ID_HEADER = 'Nats-Msg-Id';
export const EXPECTED_LAST_MSG_ID_HEADER = 'Nats-Expected-Last-Msg-Id';

/** What every id of ours starts with: how a reader tells them from a publisher's own ids. */
const ID_MARK = 'sg~';

/** Unique ids for one connection: 72 random bits, then a counter (base 36). */
export class PublishIds {
  private readonly prefix = `${ID_MARK}${randomBytes(9).toString('base64url')}.`;
  private next = 0;

  take(): string {
    return `${this.prefix}${(this.next++).toString(36)}`;
  }
}

/** True for the chaining headers of a batch publish (see above), which readers never see. */
export function isPublishIdHeader(name: string, values: readonly string[]): boolean {
  if (name !== MSG_ID_HEADER && name !== EXPECTED_LAST_MSG_ID_HEADER) return false;
  return values.length === 1 && (values[0] as string).startsWith(ID_MARK);
}

/**
 * True when a message's header lines already carry a JetStream directive (`Nats-…`) of the
 * publisher's. nats-server looks its directives up by exact name, so the case is exact here too.
 */
export function hasJetStreamDirective(headerLines: string): boolean {
  return headerLines.includes('\r\nNats-');
}
