import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import type { Viewer } from '../../domain/viewer.ts';
import { ERROR_CODES, type ErrorCode } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { CLOSE_CODES, closeCodeFor, closeReason } from '../close-codes.ts';
import type {
  GroupEvent,
  GroupMember,
  Membership,
  SubscriptionGroups,
} from '../delivery/subscription-groups.ts';
import { isResultStream, type OperationRunner, type RunContext } from '../operation-runner.ts';
import { TRANSPORTS } from '../ops/transport-stats.ts';
import type { CoreSocket } from '../socket-core.ts';
import { MANAGED_LIFECYCLE } from '../subscription-lifecycle.ts';
import { dataOf, typedRequest } from '../typed-operation.ts';
import { LegacyDataSourceAnswerDocument, LegacyDataSourceProviderDocument } from './documents.ts';
import { type ErrorFrameCode, errorFrame, parseFrame, requestFrame } from './protocol.ts';

export interface LegacyDataSourceSessionOptions {
  readonly dataSourceId: string;
  readonly socket: CoreSocket;
  readonly runner: OperationRunner;
  /** The provider subscription runs alone (it makes its connection a provider), but as a group member. */
  readonly groups: SubscriptionGroups;
  readonly viewer: Viewer | null;
  readonly correlationId: string;
  readonly connectionId: string;
  readonly log: Logger;
}

/**
 * One legacy provider socket as a translator: it subscribes to `dataSourceRequests` and writes
 * each request as a legacy frame; each answer frame becomes an `answerDataSource` mutation. Both
 * run through the execution seam under this socket's viewer and connection id; the subscription's
 * start and end (shutdown, metrics) are the transport's, not per-event wrappers'.
 */
export class LegacyDataSourceSession implements GroupMember {
  readonly transport = TRANSPORTS.LEGACY_WS;
  private readonly initial: RunContext;
  private membership: Membership | undefined;
  private ended = false;
  private closing = false;

  constructor(private readonly options: LegacyDataSourceSessionOptions) {
    this.initial = {
      extra: {
        viewer: options.viewer,
        correlationId: options.correlationId,
        connectionId: options.connectionId,
      },
      ...MANAGED_LIFECYCLE,
    };
    const { runner, groups, dataSourceId } = options;
    this.membership = groups.join(
      null,
      (_audience) =>
        runner.perform(
          { query: LegacyDataSourceProviderDocument, variables: { id: dataSourceId } },
          this.initial,
        ),
      this,
    );
  }

  next(event: GroupEvent): void {
    const { result } = event;
    if (result.errors?.length) {
      this.refuse(result);
      return;
    }
    const request = dataOf(LegacyDataSourceProviderDocument, result)?.dataSourceRequests;
    if (!request || this.ended || this.closing) return;
    this.options.socket.send(requestFrame(request));
  }

  error(errors: readonly GraphQLFormattedError[]): void {
    this.options.log.error(
      { errors, dataSourceId: this.options.dataSourceId },
      'legacy data source socket failed',
    );
    this.close(CLOSE_CODES.INTERNAL, 'INTERNAL: the provider subscription failed');
  }

  /** The server ended the subscription: it is shutting down. */
  complete(): void {
    this.close(CLOSE_CODES.GOING_AWAY, 'GOING_AWAY: the server is shutting down');
  }

  /** A frame from the provider: an answer, or something to refuse with an error frame. */
  async receive(data: string | Uint8Array): Promise<void> {
    if (this.ended) return;
    const validation = parseFrame(data);
    if (!validation.ok) {
      this.send(errorFrame(validation.error, validation.message, validation.requestId));
      return;
    }
    const { frame } = validation;
    const outcome = await this.options.runner.perform(
      typedRequest(LegacyDataSourceAnswerDocument, {
        requestId: frame.requestId,
        result: frame.payload,
        error: frame.error ?? null,
        answerId: frame.id ?? null,
      }),
      this.initial,
    );
    if (isResultStream(outcome)) throw new Error('answerDataSource answered a stream');
    const error = outcome.errors?.[0];
    if (error) this.send(errorFrame(errorCodeOf(error.extensions?.code), error.message, frame.requestId));
  }

  /** The socket has closed: the provider is gone (its pending requests go to another provider). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.membership?.leave();
  }

  private send(frame: string): void {
    if (!this.ended && !this.closing) this.options.socket.send(frame);
  }

  private refuse(result: ExecutionResult): void {
    const error = result.errors?.[0];
    const code = errorCodeOf(error?.extensions?.code);
    const message = error?.message ?? 'the provider could not be registered';
    this.send(errorFrame(code, message));
    this.close(closeCodeFor(code), `${code}: ${message}`);
  }

  private close(code: number, reason: string): void {
    if (this.ended || this.closing) return;
    this.closing = true;
    this.options.socket.close(code, closeReason(reason));
  }
}

function errorCodeOf(code: unknown): ErrorFrameCode {
  return (
    Object.values(ERROR_CODES).find((known): known is ErrorCode => known === code) ?? ERROR_CODES.INTERNAL
  );
}
