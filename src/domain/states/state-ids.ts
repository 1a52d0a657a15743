import { BadUserInputError } from '../../errors.ts';
import { isSubjectToken } from '../../pubsub/subjects.ts';

/** @default 200: longer ids make subjects that no broker should have to carry. */
export const MAX_ID_LENGTH = 200;

/**
 * Checks a state or session id: it becomes one token of a broker subject
 * (`processor.state.{state}.{session}`), so no dots, wildcards or white space.
 */
export function assertStateToken(what: 'stateId' | 'sessionId', id: string): void {
  if (!isSubjectToken(id) || id.length > MAX_ID_LENGTH) {
    throw new BadUserInputError(
      `${what}: "${id}" is not a valid id: it must be 1 to ${MAX_ID_LENGTH} characters with no dots, "*", ">" or white space`,
      { details: { field: what } },
    );
  }
}
