import type { IncomingMessage } from 'node:http';
import { invalidToken } from '../../domain/auth/token-error.ts';

/**
 * Where each transport carries the token (DESIGN.md, identity and access). Each function returns
 * the raw token, undefined when there is none, or throws INVALID_TOKEN when the carrier itself
 * is malformed (e.g. `Authorization: Basic ...`). None of them verifies anything.
 */

const BEARER = /^Bearer[ ]+([^\s]+)\s*$/i;

/** The token of an `Authorization: Bearer <token>` header value. */
export function tokenFromAuthorization(
  value: string | null | undefined,
  where = 'Authorization header',
): string | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const match = BEARER.exec(value.trim());
  if (!match) throw invalidToken(`the ${where} must be "Bearer <token>"`);
  return match[1];
}

/**
 * The token of an HTTP request: `Authorization: Bearer`, else `?token=` when `allowQuery` (the
 * legacy routes and SSE, whose browser clients cannot set headers). `url`: the request's URL when
 * the caller has it parsed already.
 */
export function tokenFromRequest(
  request: Request,
  options: { allowQuery?: boolean; url?: URL } = {},
): string | undefined {
  const fromHeader = tokenFromAuthorization(request.headers.get('authorization'));
  if (fromHeader !== undefined || !options.allowQuery) return fromHeader;
  return tokenFromQuery((options.url ?? new URL(request.url)).searchParams);
}

/** The same for a Node request (a WebSocket upgrade): header first, then `?token=` when allowed. */
export function tokenFromIncomingMessage(
  request: IncomingMessage,
  options: { allowQuery?: boolean } = {},
): string | undefined {
  const fromHeader = tokenFromAuthorization(request.headers.authorization);
  if (fromHeader !== undefined || !options.allowQuery) return fromHeader;
  return tokenFromQuery(new URL(request.url ?? '/', 'http://localhost').searchParams);
}

function tokenFromQuery(params: URLSearchParams): string | undefined {
  const token = params.get('token');
  return token === null || token.trim() === '' ? undefined : token.trim();
}

/**
 * The token of a graphql-ws `connection_init`: `connectionParams.authorization` ("Bearer x"; a
 * bare token is accepted too, as some clients send one) or `connectionParams.token`.
 */
export function tokenFromConnectionParams(
  params: Readonly<Record<string, unknown>> | undefined,
): string | undefined {
  if (!params) return undefined;
  const authorization = params.authorization ?? params.Authorization;
  if (authorization !== undefined && authorization !== null) {
    if (typeof authorization !== 'string')
      throw invalidToken('connectionParams.authorization must be a string "Bearer <token>"');
    if (authorization.trim() === '') return undefined;
    return /^Bearer\s/i.test(authorization.trim())
      ? tokenFromAuthorization(authorization, 'connectionParams.authorization')
      : authorization.trim();
  }
  const token = params.token;
  if (token === undefined || token === null) return undefined;
  if (typeof token !== 'string') throw invalidToken('connectionParams.token must be a string');
  return token.trim() === '' ? undefined : token.trim();
}

/** True when an HTTP request asks for an SSE stream, where `?token=` is accepted. */
export function acceptsEventStream(request: Request): boolean {
  return (request.headers.get('accept') ?? '').includes('text/event-stream');
}
