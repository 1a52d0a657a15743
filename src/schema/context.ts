import type { AppServices } from '../domain/services.ts';
import type { Viewer } from '../domain/viewer.ts';
import type { Logger } from '../log.ts';

/** What every resolver receives: the shared services and who is asking. */
export interface GraphQLContext {
  readonly services: AppServices;
  readonly viewer: Viewer | null;
  /** Correlation id of the request or connection; it is in every log line of it. */
  readonly correlationId: string;
  readonly log: Logger;
}
