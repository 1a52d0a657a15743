import { GraphQLError } from 'graphql';
import type { AuthService } from '../../domain/auth/auth-service.ts';
import { invalidToken } from '../../domain/auth/token-error.ts';
import type { Viewer } from '../../domain/viewer.ts';
import { isAppError } from '../../errors.ts';
import { tokenFromAuthorization } from './token-source.ts';

/**
 * The token of one graphql-ws operation: `payload.extensions.headers.authorization` (any case),
 * where GraphiQL puts its Headers tab, since its `connection_init` carries no payload. Undefined
 * when there is none; INVALID_TOKEN when the header is not "Bearer <token>".
 */
export function tokenFromOperationExtensions(extensions: unknown): string | undefined {
  if (typeof extensions !== 'object' || extensions === null) return undefined;
  const headers = (extensions as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization');
  if (entry === undefined || entry[1] === undefined || entry[1] === null) return undefined;
  if (typeof entry[1] !== 'string')
    throw invalidToken('extensions.headers.authorization must be a string "Bearer <token>"');
  return tokenFromAuthorization(entry[1], 'extensions.headers.authorization');
}

/**
 * Who one operation runs as when it carries its own token: that token's Viewer (verified like
 * every other token), an UNAUTHENTICATED error for a bad one, or undefined to keep the
 * connection's identity.
 */
export async function operationViewer(
  auth: AuthService,
  extensions: unknown,
): Promise<{ readonly viewer: Viewer | null } | { readonly error: GraphQLError } | undefined> {
  try {
    const token = tokenFromOperationExtensions(extensions);
    if (token === undefined) return undefined;
    return { viewer: await auth.identify(token) };
  } catch (error) {
    if (!isAppError(error)) throw error;
    return { error: new GraphQLError(error.message, { originalError: error, extensions: error.extensions }) };
  }
}
