import type { GraphQLFormattedError } from 'graphql';
import { ERROR_CODES } from '../../errors.ts';
import { CLOSE_CODES } from '../close-codes.ts';
import {
  type OperationFrames,
  type OperationPayload,
  OperationSocket,
  type OperationSocketOptions,
} from '../operation-socket.ts';
import { TRANSPORTS } from '../ops/transport-stats.ts';
import type { CoreSocket } from '../socket-core.ts';
import { APOLLO_MESSAGE } from './message-types.ts';

/** Pre-built frames: the same bytes for every connection. */
const ACK_FRAME = JSON.stringify({ type: APOLLO_MESSAGE.CONNECTION_ACK });
const KEEP_ALIVE_FRAME = JSON.stringify({ type: APOLLO_MESSAGE.KEEP_ALIVE });

/** RFC 6455 normal closure, for `connection_terminate`. */
const NORMAL_CLOSURE = 1000;

/**
 * The old protocol's results: `data`, then `complete`. An operation refused before it runs
 * (parse, validation, a limit) gets its errors in a `data` and a `complete`, as
 * subscriptions-transport-ws's own server sent validation errors: its client hands them to the
 * application as GraphQL errors (Apollo Client's `graphQLErrors`). A stream that fails midway
 * gets `error`, whose payload that client and others read as one error object.
 */
const FRAMES: OperationFrames = {
  transport: TRANSPORTS.APOLLO_WS,
  resultHead: (id) => `{"id":${JSON.stringify(id)},"type":"${APOLLO_MESSAGE.DATA}","payload":`,
  complete: (id) => JSON.stringify({ id, type: APOLLO_MESSAGE.COMPLETE }),
  refused: (id, errors) => [
    JSON.stringify({ id, type: APOLLO_MESSAGE.DATA, payload: { errors } }),
    JSON.stringify({ id, type: APOLLO_MESSAGE.COMPLETE }),
  ],
  failed: (id, errors) =>
    JSON.stringify({ id, type: APOLLO_MESSAGE.ERROR, payload: errors.length === 1 ? errors[0] : errors }),
};

/** A message as the old protocol frames it: `{ type, id?, payload? }`. */
interface ApolloMessage {
  readonly type: string;
  readonly id?: unknown;
  readonly payload?: unknown;
}

/**
 * One connection of the old Apollo protocol (`subscriptions-transport-ws`, subprotocol
 * `graphql-ws`), still spoken by many deployed Apollo apps: a legacy adapter on the same
 * connection core as graphql-ws (operation-socket.ts: token, slot, expiry, limits, groups).
 * What differs is the wire: `start`/`stop`, `data`/`error`/`complete`, a `ka` message with each
 * keep-alive ping, and a `connection_error` before the close of a refused connection. The
 * protocol's client sends its `start`s right behind `connection_init` without waiting for the
 * ack, so a `start` waits for the token's verification; one sent before any `connection_init`
 * waits for it too, and the socket closes 4408 when none comes in time.
 */
export class ApolloConnection extends OperationSocket {
  protected readonly startType = APOLLO_MESSAGE.START;
  /** Settles when `connection_init` has been answered (either way) or the socket closed. */
  private readonly answered: Promise<void>;
  private markAnswered: () => void = () => undefined;
  /** Starts waiting for that answer; a `stop` meanwhile removes its id. */
  private readonly waiting = new Set<string>();

  constructor(socket: CoreSocket, authorization: string | undefined, options: OperationSocketOptions) {
    super(socket, authorization, options, FRAMES);
    this.answered = new Promise((resolve) => {
      this.markAnswered = resolve;
    });
    socket.ws.once('close', () => this.markAnswered());
  }

  protected closeForInternalError(): void {
    this.socket.close(CLOSE_CODES.GRAPHQL_WS_UNAVAILABLE, 'Internal server error');
  }

  /** Cheap check before parsing: `stop` and `connection_terminate` free resources. */
  protected isFreeing(text: string): boolean {
    return text.length < 200 && /"type"\s*:\s*"(stop|connection_terminate)"/.test(text);
  }

  protected dispatch(text: string): void {
    const message = parseMessage(text);
    if (typeof message === 'string') {
      // As subscriptions-transport-ws's server: the frame is ignored, the connection stays.
      this.sendConnectionError(`Invalid message received: ${message}`, ERROR_CODES.BAD_USER_INPUT);
      return;
    }
    this.handle(message).catch((error: unknown) => {
      this.options.log.error({ err: error }, 'apollo_ws message failed');
      this.closeForInternalError();
    });
  }

  private async handle(message: ApolloMessage): Promise<void> {
    switch (message.type) {
      case APOLLO_MESSAGE.CONNECTION_INIT:
        await this.init(message.payload);
        return;
      case APOLLO_MESSAGE.START:
        await this.startOperation(message);
        return;
      case APOLLO_MESSAGE.STOP:
        if (typeof message.id !== 'string') return;
        // As subscriptions-transport-ws's server: the stopped operation ends with `complete`.
        if (this.waiting.delete(message.id) || this.stop(message.id))
          this.socket.send(FRAMES.complete(message.id));
        return;
      case APOLLO_MESSAGE.CONNECTION_TERMINATE:
        this.close(NORMAL_CLOSURE, 'connection_terminate');
        return;
      default:
        this.sendProtocolError(
          message.id,
          `Unknown message type ${JSON.stringify(message.type)}: expected connection_init, start, stop or connection_terminate`,
        );
    }
  }

  private async init(payload: unknown): Promise<void> {
    if (this.initialised) {
      this.sendConnectionError('connection_init was already received', ERROR_CODES.BAD_USER_INPUT);
      return;
    }
    const refusal = await this.connect(isObject(payload) ? payload : undefined);
    this.markAnswered();
    if (refusal === 'gone') return;
    if (refusal) {
      this.sendConnectionError(refusal.message, refusal.code);
      this.closeRefused(refusal);
      return;
    }
    this.socket.send(ACK_FRAME);
    // The client starts watching for `ka` at the first one; then one comes with every ping.
    this.socket.send(KEEP_ALIVE_FRAME);
    this.socket.keepAliveFrame = KEEP_ALIVE_FRAME;
  }

  private async startOperation(message: ApolloMessage): Promise<void> {
    const { id, payload } = message;
    if (typeof id !== 'string' || id === '') {
      this.sendProtocolError(undefined, 'start needs an operation id (a non-empty string)');
      return;
    }
    if (!isOperationPayload(payload)) {
      this.sendProtocolError(
        id,
        'start needs a payload { query: string, variables?: object, operationName?: string }',
      );
      return;
    }
    if (!this.acknowledged) {
      this.waiting.add(id);
      await this.answered;
      // Stopped meanwhile, or the connection was refused (and is closing).
      if (!this.waiting.delete(id) || !this.acknowledged) return;
    }
    // As subscriptions-transport-ws's server: a start under a running id replaces that operation.
    this.stop(id);
    await this.start(id, payload);
  }

  private sendConnectionError(message: string, code: string): void {
    this.socket.send(
      JSON.stringify({ type: APOLLO_MESSAGE.CONNECTION_ERROR, payload: { message, extensions: { code } } }),
    );
  }

  /** An `error` for a message the protocol cannot act on; its operation (if any) does not run. */
  private sendProtocolError(id: unknown, message: string): void {
    const error: GraphQLFormattedError = { message, extensions: { code: ERROR_CODES.BAD_USER_INPUT } };
    this.socket.send(
      JSON.stringify({
        ...(typeof id === 'string' ? { id } : {}),
        type: APOLLO_MESSAGE.ERROR,
        payload: error,
      }),
    );
  }
}

/** The message of a frame, or why it is not one. */
function parseMessage(text: string): ApolloMessage | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isObject(value) || Array.isArray(value)) return 'not a JSON object';
  if (typeof value.type !== 'string') return 'no "type"';
  return value as unknown as ApolloMessage;
}

function isOperationPayload(value: unknown): value is OperationPayload {
  if (!isObject(value) || typeof value.query !== 'string') return false;
  const { variables, operationName, extensions } = value;
  return (
    (variables === undefined || variables === null || (isObject(variables) && !Array.isArray(variables))) &&
    (operationName === undefined || operationName === null || typeof operationName === 'string') &&
    (extensions === undefined || extensions === null || isObject(extensions))
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
