/**
 * Scale-out is the broker's job (DESIGN.md decision 7): two streamgate instances configured
 * with the same broker see each other's messages, and report the broker in /health.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { subscribed, text, textOf, uniqueSubject } from '../pubsub/broker-backends.ts';
import { serviceUrl } from '../setup/services.ts';

const brokers = [
  {
    kind: 'nats',
    env: () => ({ BROKER: 'nats', NATS_URL: serviceUrl('nats') }),
    dependencies: { broker: 'ok' },
  },
  {
    kind: 'redis',
    env: () => ({ BROKER: 'redis', REDIS_URL: serviceUrl('redis') }),
    dependencies: { broker: 'ok', redis: 'ok' },
  },
  {
    kind: 'kafka',
    env: () => ({
      BROKER: 'kafka',
      KAFKA_BROKERS: serviceUrl('kafka'),
      KAFKA_CONSUMER_GROUP: 'two-instances',
    }),
    dependencies: { broker: 'ok', kafka: 'ok' },
  },
];

describe.each(brokers)('two streamgate instances on one $kind broker', ({ kind, env, dependencies }) => {
  let appA: TestApp;
  let appB: TestApp;
  beforeAll(async () => {
    [appA, appB] = await Promise.all([startTestApp({ env: env() }), startTestApp({ env: env() })]);
  });
  afterAll(async () => {
    await Promise.all([appA?.stop(), appB?.stop()]);
  });

  it('uses the configured broker', () => {
    expect(appA.app.services.broker.kind).toBe(kind);
    expect(appB.app.services.broker.kind).toBe(kind);
  });

  it('delivers a publish through instance A to a subscriber on instance B', async () => {
    const subject = uniqueSubject();
    const onB = await subscribed(appB.app.services.broker.subscribe(subject));
    await appA.app.services.broker.publish(subject, text('across'), { headers: { 'X-From': 'A' } });
    const message = await onB.messages.next();
    expect(textOf(message)).toBe('across');
    expect(message.headers['X-From']).toBe('A');
  });

  it('answers a request from instance B on instance A', async () => {
    const subject = uniqueSubject();
    await appA.app.services.broker.respond(subject, () => ({ payload: text('from A') }), {
      queue: 'streamgate',
    });
    const reply = await appB.app.services.broker.request(subject, text('?'), { timeoutMs: 5_000 });
    expect(textOf(reply)).toBe('from A');
  });

  it('reports the broker as a healthy dependency', async () => {
    const response = await fetch(`${appA.url}/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; dependencies: Record<string, string> };
    expect(body.status).toBe('ok');
    expect(body.dependencies).toEqual({ database: 'ok', ...dependencies });
  });
});
