import type { GraphQLFormattedError } from 'graphql';
import {
  CloseCode,
  GRAPHQL_TRANSPORT_WS_PROTOCOL,
  type Message,
  MessageType,
  parseMessage,
} from 'graphql-ws';
import { type OperationFrames, OperationSocket, type OperationSocketOptions } from './operation-socket.ts';
import { TRANSPORTS } from './ops/transport-stats.ts';
import type { CoreSocket } from './socket-core.ts';

/** The subprotocol a graphql-ws client asks for (graphql-ws's own name for it). */
export const GRAPHQL_WS_SUBPROTOCOL = GRAPHQL_TRANSPORT_WS_PROTOCOL;

/** Pre-built frames: the same bytes for every connection. */
const ACK_FRAME = stringify({ type: MessageType.ConnectionAck });
const PONG_FRAME = stringify({ type: MessageType.Pong });

/** graphql-transport-ws results: `next`, `complete`, and `error` for anything refused or failed. */
const FRAMES: OperationFrames = {
  transport: TRANSPORTS.GRAPHQL_WS,
  resultHead: (id) => `{"id":${JSON.stringify(id)},"type":"next","payload":`,
  complete: (id) => stringify({ id, type: MessageType.Complete }),
  refused: (id, errors) => [errorFrame(id, errors)],
  failed: errorFrame,
};

/**
 * The graphql-transport-ws protocol (graphql-ws 6.4's `makeServer`, message for message and close
 * code for close code) on streamgate's socket core. It is written here rather than taken from
 * graphql-ws because makeServer runs and serializes every subscription on its own; here a
 * subscription joins its group (DESIGN.md decision 4) and receives the group's serialized
 * payload with its own id spliced in (operation-socket.ts, shared with the old Apollo protocol).
 * The token is verified once, at `connection_init`: a bad one closes with 4403 before any data,
 * and the socket is closed with 4403 when it expires.
 */
export class GraphqlWsConnection extends OperationSocket {
  protected readonly startType = MessageType.Subscribe;

  constructor(socket: CoreSocket, authorization: string | undefined, options: OperationSocketOptions) {
    super(socket, authorization, options, FRAMES);
  }

  protected closeForInternalError(): void {
    this.socket.close(CloseCode.InternalServerError, 'Internal server error');
  }

  /** Cheap check before parsing: `complete` frees resources and is never limited. */
  protected isFreeing(text: string): boolean {
    return text.length < 200 && /"type"\s*:\s*"complete"/.test(text);
  }

  protected dispatch(text: string): void {
    let message: Message;
    try {
      message = parseMessage(text);
    } catch {
      this.close(CloseCode.BadRequest, 'Invalid message received');
      return;
    }
    this.handle(message).catch((error: unknown) => {
      this.options.log.error({ err: error }, 'graphql-ws message failed');
      this.close(CloseCode.InternalServerError, 'Internal server error');
    });
  }

  private async handle(message: Message): Promise<void> {
    switch (message.type) {
      case MessageType.ConnectionInit: {
        if (this.initialised) {
          this.close(CloseCode.TooManyInitialisationRequests, 'Too many initialisation requests');
          return;
        }
        const refusal = await this.connect(isObject(message.payload) ? message.payload : undefined);
        if (refusal === 'gone') return;
        if (refusal) {
          this.closeRefused(refusal);
          return;
        }
        this.socket.send(ACK_FRAME);
        return;
      }
      case MessageType.Ping:
        this.socket.send(
          message.payload ? stringify({ type: MessageType.Pong, payload: message.payload }) : PONG_FRAME,
        );
        return;
      case MessageType.Pong:
        return;
      case MessageType.Subscribe:
        if (!this.acknowledged) {
          this.close(CloseCode.Unauthorized, 'Unauthorized');
          return;
        }
        if (this.running(message.id)) {
          this.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${message.id} already exists`);
          return;
        }
        await this.start(message.id, message.payload);
        return;
      case MessageType.Complete:
        this.stop(message.id);
        return;
      default:
        throw new Error(`Unexpected message of type ${message.type} received`);
    }
  }
}

function errorFrame(id: string, errors: readonly GraphQLFormattedError[]): string {
  return stringify({ id, type: MessageType.Error, payload: errors });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function stringify(message: Record<string, unknown>): string {
  return JSON.stringify(message);
}
