import type { ExecutionResult } from 'graphql';
import { ERROR_CODES, type ErrorCode } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { InitialContext } from '../graphql-context.ts';
import type { LocalOperations } from '../local-operations.ts';
import {
  CLOSE_CODES,
  closeCodeOf,
  closeReason,
  type ErrorFrameCode,
  errorFrame,
  parseFrame,
  requestFrame,
} from './protocol.ts';

/** What the session needs of a socket; `ws` provides it, and so could any other transport. */
export interface ProviderSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes queued for sending and not yet sent. */
  readonly bufferedAmount: number;
}

export interface LegacyDataSourceSessionOptions {
  readonly dataSourceId: string;
  readonly socket: ProviderSocket;
  readonly operations: LocalOperations;
  /** The GraphQL context every operation of this socket runs with (its connection id, its viewer). */
  readonly initial: InitialContext;
  readonly log: Logger;
  /** Unsent bytes at which a provider that does not read is closed (SLOW_CONSUMER). */
  readonly maxBufferedBytes: number;
}

export interface LegacyDataSourceSession {
  /** A frame from the provider: an answer, or something to refuse with an error frame. */
  receive(data: string | Uint8Array): Promise<void>;
  /** The socket has closed: the provider is gone (its pending requests go to another provider). */
  end(): void;
}

/** The operations a /ws/ds socket translates to (DESIGN.md decision 1). */
export const PROVIDER_SUBSCRIPTION = /* GraphQL */ `
  subscription LegacyDataSourceProvider($id: ID!) {
    dataSourceRequests(id: $id) { id operation query }
  }
`;
export const ANSWER_MUTATION = /* GraphQL */ `
  mutation LegacyDataSourceAnswer($requestId: ID!, $result: JSON, $error: String, $answerId: ID) {
    answerDataSource(requestId: $requestId, result: $result, error: $error, answerId: $answerId)
  }
`;

interface RequestData {
  readonly dataSourceRequests: { id: string; operation: string | null; query: unknown };
}

/**
 * One legacy provider socket as a translator: it subscribes to `dataSourceRequests` and writes
 * each request as a legacy frame; each answer frame becomes an `answerDataSource` mutation.
 */
export function startLegacyDataSourceSession(
  options: LegacyDataSourceSessionOptions,
): LegacyDataSourceSession {
  const { socket, operations, initial, log } = options;
  let requests: AsyncIterableIterator<ExecutionResult> | undefined;
  let ended = false;
  let closing = false;

  const close = (code: number, reason: string) => {
    if (ended || closing) return;
    closing = true;
    socket.close(code, closeReason(reason));
  };

  const refuse = (result: ExecutionResult) => {
    const error = result.errors?.[0];
    const code = errorCodeOf(error?.extensions?.code);
    const message = error?.message ?? 'the provider could not be registered';
    if (!ended && !closing) socket.send(errorFrame(code, message));
    close(closeCodeOf(code), `${code}: ${message}`);
  };

  const forward = async () => {
    const outcome = await operations.subscribe(PROVIDER_SUBSCRIPTION, { id: options.dataSourceId }, initial);
    if (!(Symbol.asyncIterator in outcome)) return refuse(outcome);
    if (ended) {
      await outcome.return?.();
      return;
    }
    requests = outcome;
    for await (const result of outcome) {
      if (result.errors?.length) return refuse(result);
      const request = (result.data as unknown as RequestData | undefined)?.dataSourceRequests;
      if (!request || ended || closing) continue;
      if (socket.bufferedAmount > options.maxBufferedBytes) {
        close(CLOSE_CODES.SLOW_CONSUMER, `SLOW_CONSUMER: ${socket.bufferedAmount} bytes of requests unread`);
        continue;
      }
      socket.send(requestFrame(request));
    }
    // The server ended the subscription: it is shutting down.
    close(CLOSE_CODES.GOING_AWAY, 'GOING_AWAY: the server is shutting down');
  };

  forward().catch((error: unknown) => {
    log.error({ err: error, dataSourceId: options.dataSourceId }, 'legacy data source socket failed');
    close(CLOSE_CODES.INTERNAL, 'INTERNAL: the provider subscription failed');
  });

  return {
    async receive(data) {
      if (ended) return;
      const validation = parseFrame(data);
      if (!validation.ok) {
        socket.send(errorFrame(validation.error, validation.message, validation.requestId));
        return;
      }
      const { frame } = validation;
      const result = await operations.execute(
        ANSWER_MUTATION,
        {
          requestId: frame.requestId,
          result: frame.payload,
          error: frame.error ?? null,
          answerId: frame.id ?? null,
        },
        initial,
      );
      const error = result.errors?.[0];
      if (error && !ended)
        socket.send(errorFrame(errorCodeOf(error.extensions?.code), error.message, frame.requestId));
    },

    end() {
      if (ended) return;
      ended = true;
      void requests?.return?.();
    },
  };
}

function errorCodeOf(code: unknown): ErrorFrameCode {
  return (
    Object.values(ERROR_CODES).find((known): known is ErrorCode => known === code) ?? ERROR_CODES.INTERNAL
  );
}
