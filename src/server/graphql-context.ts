import type { AppServices } from '../domain/services.ts';
import { newCorrelationId } from '../log.ts';
import type { GraphQLContext } from '../schema/context.ts';

/** What yoga hands the context factory: an HTTP request, or a graphql-ws connection context. */
export interface InitialContext {
  readonly request?: Request;
  readonly connectionParams?: Readonly<Record<string, unknown>>;
  readonly extra?: { readonly correlationId?: string };
}

/** Builds the GraphQL context of one operation, whichever transport carried it. */
export function createContextFactory(services: AppServices) {
  return async function buildContext(initial: InitialContext): Promise<GraphQLContext> {
    const correlationId =
      initial.extra?.correlationId ?? initial.request?.headers.get('x-request-id') ?? newCorrelationId();
    return {
      services,
      viewer: null,
      correlationId,
      log: services.log.child({ correlationId }),
    };
  };
}
