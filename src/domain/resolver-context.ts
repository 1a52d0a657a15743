import type { Logger } from '../log.ts';
import type { Audience } from './audience.ts';
import type { AppServices } from './services.ts';
import type { Viewer } from './viewer.ts';

/**
 * What every resolver receives: the shared services and who is asking. It lives in the domain,
 * below the resolvers and the schema that both read it, and the transports that build it.
 */
export interface GraphQLContext {
  readonly services: AppServices;
  readonly viewer: Viewer | null;
  /** Correlation id of the request or connection; it is in every log line of it. */
  readonly correlationId: string;
  /**
   * The persistent connection the operation came over (a graphql-ws socket or a legacy
   * WebSocket); null over HTTP and SSE. Tells one provider's answers from another's.
   */
  readonly connectionId: string | null;
  /**
   * Undefined when the client's connection can take more now (its unsent bytes are low), else a
   * promise of that moment: streams that must go no faster than the client reads check it before
   * each event (graphql-ws, GraphQL over SSE). Absent over plain HTTP.
   */
  readonly whenWritable?: () => Promise<void> | undefined;
  /** The clients a subscription serves when a group shares it; one when absent. */
  readonly audience?: Audience;
  readonly log: Logger;
}
