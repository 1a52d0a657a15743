/**
 * How NATS publish failures are told apart (src/pubsub/nats/nats-publish-errors.ts): the errors
 * as nats.js and JetStream give them (shapes seen on a real nats-server: a `js.publish` to a
 * subject the user may not publish on rejects with a RequestError whose cause is the
 * PermissionViolationError; JetStream answers a message over the stream's max_msg_size with
 * err_code 10054). The same refusals end to end: test/devices/outbox-poison (max_msg_size),
 * test/pubsub/nats-publish-denied and test/devices/ingest-publish-denied (permissions).
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { type NatsConnection, errors as natsErrors } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import {
  BrokerUnavailableError,
  isPermanentRefusal,
  MessageTooLargeError,
  PublishDeniedError,
} from '../../src/pubsub/errors.ts';
import { ackError, publishError } from '../../src/pubsub/nats/nats-publish-errors.ts';

const nc = { info: { max_payload: 1_048_576 } } as unknown as NatsConnection;
const payload = new Uint8Array(5_000);

describe('NATS publish errors', () => {
  it('a message over the stream max_msg_size is refused for good, naming the limit when known', () => {
    const answer = { kind: 'error', message: 'message size exceeds maximum allowed', code: 10054 } as const;
    const fromAck = ackError('monitor.d', payload, nc, answer, 2_000);
    expect(fromAck).toBeInstanceOf(MessageTooLargeError);
    expect(fromAck.message).toBe(
      `a message of 5000 bytes on "monitor.d" is larger than the broker accepts (2000 bytes): its JetStream stream's max_msg_size (JetStream: message size exceeds maximum allowed)`,
    );
    const fromPublish = publishError(
      'monitor.d',
      payload,
      nc,
      new JetStreamApiError({
        code: 400,
        err_code: 10054,
        description: 'message size exceeds maximum allowed',
      }),
    );
    expect(isPermanentRefusal(fromPublish)).toBe(true);
    expect(fromPublish.message).toMatch(
      /larger than the broker accepts: its JetStream stream's max_msg_size/,
    );
  });

  it("over the server's max_payload is refused for good", () => {
    const error = publishError('monitor.d', payload, nc, new Error('max_payload size exceeded'));
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error.message).toMatch(/\(1048576 bytes\)$/);
  });

  it('a publish permission violation, as js.publish rejects with it, is refused for good', () => {
    const violation = new natsErrors.PermissionViolationError(
      'Permissions Violation for Publish to "monitor.d"',
      'publish',
      'monitor.d',
    );
    const error = publishError(
      'monitor.d',
      payload,
      nc,
      new natsErrors.RequestError(violation.message, { cause: violation }),
    );
    expect(error).toBeInstanceOf(PublishDeniedError);
    expect(error.message).toBe(
      'the broker does not permit publishing on "monitor.d": Permissions Violation for Publish to "monitor.d"',
    );
  });

  it('a batched message the server denied (its -ERR, no ack) is refused for good, as a single publish is', () => {
    const violation = new natsErrors.PermissionViolationError(
      'Permissions Violation for Publish to "monitor.d"',
      'publish',
      'monitor.d',
    );
    const error = ackError('monitor.d', payload, nc, { kind: 'denied', error: violation });
    expect(error).toBeInstanceOf(PublishDeniedError);
    expect(isPermanentRefusal(error)).toBe(true);
    expect(error.message).toBe(
      'the broker does not permit publishing on "monitor.d": Permissions Violation for Publish to "monitor.d"',
    );
  });

  it('anything else is transient: other JetStream errors, timeouts, a subscribe permission', () => {
    const transient = [
      ackError('monitor.d', payload, nc, { kind: 'error', message: 'wrong last msg ID', code: 10070 }),
      ackError('monitor.d', payload, nc, { kind: 'timeout' }),
      publishError('monitor.d', payload, nc, new natsErrors.TimeoutError()),
      publishError(
        'monitor.d',
        payload,
        nc,
        new natsErrors.PermissionViolationError(
          'Permissions Violation for Subscription to "x"',
          'subscription',
          'x',
        ),
      ),
    ];
    for (const error of transient) {
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect(isPermanentRefusal(error)).toBe(false);
    }
  });
});
