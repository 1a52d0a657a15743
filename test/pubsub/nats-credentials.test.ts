/**
 * Credentials in NATS_URL, as the NATS tools read them: `nats://user:password@host` (and
 * `nats://token@host`). nats.js v3 ignores a URL's userinfo, so before streamgate could not
 * connect to a nats-server that requires a user at all ("Authorization Violation"). On a
 * nats-server of this file's own with one user and no anonymous access.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerUnavailableError } from '../../src/pubsub/errors.ts';
import { createNatsBroker } from '../../src/pubsub/nats/nats-broker.ts';
import { natsServerAndCredentials } from '../../src/pubsub/nats/nats-connection.ts';
import { type PrivateService, startService } from '../setup/services.ts';
import { subscribed, text, textOf, uniqueSubject } from './broker-backends.ts';

/** A password that needs percent-encoding in a URL. */
const PASSWORD = 'p@ss/wörd';

describe('NATS_URL credentials (own nats-server requiring a user)', () => {
  let nats: PrivateService;
  beforeAll(async () => {
    nats = await startService('nats', {
      config: `authorization { users = [ { user: alice, password: ${JSON.stringify(PASSWORD)} } ] }\n`,
    });
  }, 60_000);
  afterAll(async () => {
    await nats?.stop();
  });

  const withCredentials = (userinfo: string) => nats.url.replace('nats://', `nats://${userinfo}@`);
  const connect = (url: string) =>
    createNatsBroker({ url, name: 'credentials-test', connectTimeoutMs: 1_500, reconnectMaxWaitMs: 200 });

  it('user and password in the URL (percent-encoded): connected, publishes and delivers', async () => {
    const broker = await connect(withCredentials(`alice:${encodeURIComponent(PASSWORD)}`));
    try {
      const subject = uniqueSubject();
      const subscription = broker.subscribe(subject);
      const live = await subscribed(subscription);
      await broker.publish(subject, text('hello'));
      expect(textOf(await live.messages.next(5_000, 'the message'))).toBe('hello');
      subscription.unsubscribe();
    } finally {
      await broker.close();
    }
  });

  it('a wrong password, or none: refused with the server’s words, the password not in the message', async () => {
    for (const url of [withCredentials('alice:wrong-secret'), nats.url]) {
      const refused = await connect(url).then(
        async (broker) => {
          await broker.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(BrokerUnavailableError);
      expect(String((refused as Error).message)).toMatch(
        /^cannot reach NATS at nats:\/\/127\.0\.0\.1:\d+ .*Authorization Violation/,
      );
      expect(String((refused as Error).message)).not.toContain('wrong-secret');
    }
  }, 30_000);

  it('reads a URL as the NATS tools do: user:password, a token alone, none', () => {
    expect(natsServerAndCredentials('nats://alice:p%40ss@nats.example:4222')).toEqual({
      server: 'nats://nats.example:4222',
      credentials: { user: 'alice', pass: 'p@ss' },
    });
    expect(natsServerAndCredentials('tls://s3cr%2Ft@nats.example:4222')).toEqual({
      server: 'tls://nats.example:4222',
      credentials: { token: 's3cr/t' },
    });
    expect(natsServerAndCredentials('nats://nats.example:4222')).toEqual({
      server: 'nats://nats.example:4222',
      credentials: {},
    });
  });
});
