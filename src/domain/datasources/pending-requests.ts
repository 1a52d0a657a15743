import { randomUUID } from 'node:crypto';
import { BadUserInputError, NotFoundError } from '../../errors.ts';
import { mayAnswer, type Provider, type ProviderIdentity } from './provider.ts';

/** What a provider answered (answerDataSource, or the frame of a /ws/ds socket). */
export interface ProviderAnswer {
  /** The provider's id for its answer; the requester's reply carries it as `id`. */
  readonly answerId: string;
  readonly result: unknown;
  readonly error: string | null;
}

/** How one provider's turn ended. */
export type AttemptOutcome =
  | { readonly kind: 'answer'; readonly answer: ProviderAnswer }
  | { readonly kind: 'timeout' }
  /** It disconnected, or could not take the request: the next provider may. */
  | { readonly kind: 'gone' };

interface Pending {
  readonly provider: Provider;
  readonly settle: (outcome: AttemptOutcome) => void;
}

/** The requests this instance sent to its providers and awaits answers for. */
export interface PendingRequests {
  /** Sends a request to one provider and resolves when it answers, its time is up, or it goes. */
  ask(
    provider: Provider,
    request: { readonly operation: string | null; readonly query: unknown },
    timeoutMs: number,
  ): Promise<AttemptOutcome>;
  /**
   * Settles a request with its answer. False when the id is not pending here; throws NOT_FOUND
   * for another tenant's request, BAD_USER_INPUT when it was sent to another provider.
   */
  answer(requestId: string, answerer: ProviderIdentity, answer: ProviderAnswer): boolean;
  /** A provider went away: its unanswered requests end as `gone` (and are retried elsewhere). */
  providerGone(provider: Provider): void;
  /** Ends every pending request as `gone` (shutdown). */
  clear(): void;
}

/**
 * `instanceId` (8 hex digits) replaces the first group of each request id, which stays a UUID in
 * form, so that an answer arriving at another instance can be handed to the one that asked.
 */
export function createPendingRequests(instanceId: string): PendingRequests {
  const pending = new Map<string, Pending>();

  return {
    ask(provider, request, timeoutMs) {
      const requestId = `${instanceId}${randomUUID().slice(8)}`;
      return new Promise<AttemptOutcome>((resolve) => {
        const timer = setTimeout(() => settle({ kind: 'timeout' }), timeoutMs);
        const settle = (outcome: AttemptOutcome) => {
          if (!pending.delete(requestId)) return;
          clearTimeout(timer);
          provider.inFlight -= 1;
          resolve(outcome);
        };
        pending.set(requestId, { provider, settle });
        provider.inFlight += 1;
        const delivered = provider.deliver({
          id: requestId,
          dataSourceId: provider.dataSourceId,
          operation: request.operation,
          query: request.query,
          deadline: new Date(Date.now() + timeoutMs),
        });
        if (!delivered) settle({ kind: 'gone' });
      });
    },

    answer(requestId, answerer, answer) {
      const entry = pending.get(requestId);
      if (!entry) return false;
      // Another tenant must not learn that the id exists.
      if (answerer.tenantId !== entry.provider.identity.tenantId)
        throw new NotFoundError('data source request', requestId);
      if (!mayAnswer(entry.provider.identity, answerer))
        throw new BadUserInputError(
          `data source request "${requestId}" was sent to another provider; only that provider may answer it`,
        );
      entry.settle({ kind: 'answer', answer });
      return true;
    },

    providerGone(provider) {
      for (const entry of [...pending.values()]) {
        if (entry.provider === provider) entry.settle({ kind: 'gone' });
      }
    },

    clear() {
      for (const entry of [...pending.values()]) entry.settle({ kind: 'gone' });
    },
  };
}
