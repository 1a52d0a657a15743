/**
 * Publish permission violations of a connection, told as the client reads them.
 *
 * nats-server answers a PUB to a subject the user may not publish on with
 * `-ERR 'Permissions Violation for Publish to "<subject>"'` and nothing else: the connection
 * stays, no message is routed, so no JetStream ack ever comes. nats.js makes a
 * PermissionViolationError of it (operation "publish", the subject) and hands it to a request
 * waiting on that very subject (how a single `js.publish` rejects with it) and to the
 * connection's status listeners as `{type: "error"}`. A plain publish, or a PUB of a batch
 * written in one buffer (nats-wire-batch.ts), hears nothing else of it: whoever waits for such
 * messages listens here.
 *
 * The server writes the -ERR while it reads the PUB, before what it answers to anything sent
 * after it (the PONG of a flush, the ack of a later message): so a violation is known by the time
 * those arrive, if it is told when the client parses it. nats.js's status iterator is read by a
 * `for await`, some microtasks after the PONG already resolved the flush; so the listener is
 * called from the iterator's `push`, which nats.js's parser calls for each status (the
 * iteration still runs, and tells a status `push` did not, should a client version stop calling it).
 */
import { type NatsConnection, errors as natsErrors, type Status } from '@nats-io/transport-node';

export type PublishViolation = InstanceType<typeof natsErrors.PermissionViolationError>;

export interface PublishViolations {
  /** Calls `listener` with each publish permission violation until the returned function is called. */
  listen(listener: (violation: PublishViolation) => void): () => void;
  /**
   * The subjects denied from now until `stop()`: for core publishes, whose only answer is the
   * flush (a violation of a PUB before it has been told by the time the flush resolves).
   */
  record(): DeniedSubjects;
}

export interface DeniedSubjects {
  /** The violation of `subject` told since `record()`, if any. */
  of(subject: string): PublishViolation | undefined;
  stop(): void;
}

/** Follows `nc`'s publish permission violations for as long as it lives. */
export function followPublishViolations(nc: NatsConnection): PublishViolations {
  const listeners = new Set<(violation: PublishViolation) => void>();
  const told = new WeakSet<object>();
  const take = (status: Status) => {
    if (told.has(status)) return;
    told.add(status);
    if (status.type !== 'error') return;
    const violation = status.error;
    if (!(violation instanceof natsErrors.PermissionViolationError) || violation.operation !== 'publish')
      return;
    for (const listener of [...listeners]) listener(violation);
  };
  const statuses = nc.status() as AsyncIterable<Status> & { push?: (value: unknown) => void };
  const push = statuses.push;
  if (typeof push === 'function') {
    statuses.push = (value: unknown) => {
      // A status is an object; nats.js also pushes functions (its own signalling).
      if (typeof value === 'object' && value !== null) take(value as Status);
      push.call(statuses, value);
    };
  }
  void (async () => {
    for await (const status of statuses) take(status);
  })().catch(() => {
    // The iterator ends with the connection: nothing is waiting for violations then.
  });
  const listen = (listener: (violation: PublishViolation) => void) => {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  };
  return {
    listen,
    record() {
      let denied: Map<string, PublishViolation> | undefined;
      const stop = listen((violation) => {
        denied ??= new Map();
        if (!denied.has(violation.subject)) denied.set(violation.subject, violation);
      });
      return { of: (subject) => denied?.get(subject), stop };
    },
  };
}
