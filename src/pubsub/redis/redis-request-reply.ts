import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { messageOf } from '../../errors.ts';
import type { BrokerMessage, MessageHeaders, RequestHandler, Responder } from '../broker.ts';
import { NoRespondersError } from '../errors.ts';
import { ResponderSet } from '../local-endpoints.ts';
import { RequestCorrelation } from '../request-correlation.ts';
import { subjectMatches } from '../subject-pattern.ts';
import type { RedisChannelDispatcher } from './redis-channel-dispatcher.ts';
import { decodeEnvelope, encodeEnvelope } from './redis-envelope.ts';
import { hasWildcards, type RedisNames } from './redis-subject-mapping.ts';

/** How long a queue group's claim on one message is kept: far longer than any delivery takes. */
export const CLAIM_TTL_MS = 30_000;

/**
 * Request/reply over Redis pub/sub: a request goes to the subject's request channel carrying
 * this connection's reply channel and a correlation id; PUBLISH tells how many responders
 * listened, so "nobody" is known at once. Queue groups of responders claim each request with
 * SET NX, so one member answers.
 */
export class RedisRequestReply {
  private readonly correlation = new RequestCorrelation('Redis');
  private readonly inbox: string;
  private inboxReady: Promise<void> | undefined;
  private closeInbox: (() => void) | undefined;
  private readonly responders = new ResponderSet();

  constructor(
    private readonly commands: Redis,
    private readonly dispatcher: RedisChannelDispatcher,
    private readonly names: RedisNames,
  ) {
    this.inbox = names.inbox(randomUUID());
  }

  /** The responders this broker runs. */
  get responderCount(): number {
    return this.responders.size;
  }

  async request(
    subject: string,
    payload: Uint8Array,
    options: { timeoutMs: number; headers?: MessageHeaders },
  ): Promise<BrokerMessage> {
    return this.correlation.request(subject, options.timeoutMs, async (correlation) => {
      await this.listenToInbox();
      const envelope = encodeEnvelope(
        { r: this.inbox, c: correlation, ...(options.headers ? { h: options.headers } : {}) },
        payload,
      );
      const receivers = await this.commands.publish(this.names.requestChannel(subject), envelope);
      if (receivers === 0) throw new NoRespondersError(subject);
    });
  }

  async respond(pattern: string, handler: RequestHandler, queue: string | undefined): Promise<Responder> {
    const target = hasWildcards(pattern)
      ? { glob: this.names.requestGlob(pattern) }
      : { channel: this.names.requestChannel(pattern) };
    const listening = this.dispatcher.listen(target, (channel, message) => {
      const subject = this.names.subjectOfRequestChannel(channel);
      if (subject === undefined || !subjectMatches(pattern, subject)) return;
      void this.answer(subject, message, handler, queue);
    });
    await listening.ready;
    return this.responders.add(listening.close);
  }

  /** Fails every waiting request and stops every responder. */
  async close(error: Error): Promise<void> {
    this.correlation.failAll(error);
    await this.responders.stopAll();
    this.closeInbox?.();
  }

  private listenToInbox(): Promise<void> {
    if (!this.inboxReady) {
      const listening = this.dispatcher.listen({ channel: this.inbox }, (_channel, message) =>
        this.receiveReply(message),
      );
      this.closeInbox = listening.close;
      this.inboxReady = listening.ready.catch((error: unknown) => {
        this.inboxReady = undefined;
        throw error;
      });
    }
    return this.inboxReady;
  }

  private receiveReply(message: Buffer): void {
    const { meta, payload } = decodeEnvelope(message);
    this.correlation.settle(
      meta.c,
      meta.e !== undefined
        ? { error: meta.e }
        : { payload, headers: meta.h ?? {}, timestamp: new Date(meta.t ?? Date.now()) },
    );
  }

  private async answer(
    subject: string,
    message: Buffer,
    handler: RequestHandler,
    queue: string | undefined,
  ): Promise<void> {
    const { meta, payload } = decodeEnvelope(message);
    if (meta.r === undefined || meta.c === undefined) return;
    if (queue !== undefined) {
      const claimed = await this.commands
        .set(this.names.claim(`rpc:${queue}`, meta.c), '1', 'PX', CLAIM_TTL_MS, 'NX')
        .catch(() => null);
      if (claimed !== 'OK') return;
    }
    const request: BrokerMessage = {
      subject,
      payload,
      headers: meta.h ?? {},
      timestamp: new Date(meta.t ?? Date.now()),
      position: undefined,
    };
    let reply: Buffer;
    try {
      const answer = await handler(request);
      reply = encodeEnvelope({ c: meta.c, ...(answer.headers ? { h: answer.headers } : {}) }, answer.payload);
    } catch (error) {
      reply = encodeEnvelope({ c: meta.c, e: messageOf(error) }, new Uint8Array(0));
    }
    // The requester may be gone or Redis down: a reply nobody can receive is dropped.
    await this.commands.publish(meta.r, reply).catch(() => undefined);
  }
}
