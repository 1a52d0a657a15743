/**
 * The grammar of broker subjects (DESIGN.md "Subjects"): dot-separated tokens, `*` one whole
 * token, `>` the last token. It lives here, at the bottom of the layers, because the config
 * validates subjects from the environment (SYNC_STORE_SUBJECT, KAFKA_TOPIC_MAP) and must not
 * import the broker layer; src/pubsub/subject-pattern.ts turns a problem into InvalidSubjectError.
 */

/** What is wrong with `text` as a subject (or a pattern when `wildcards`), or undefined when nothing. */
export function subjectProblem(text: string, wildcards: boolean): string | undefined {
  if (text.length === 0) return 'empty';
  if (/\s/.test(text)) return 'white space';
  const tokens = text.split('.');
  for (const [index, token] of tokens.entries()) {
    if (token === '') return 'empty token';
    const isWildcard = token === '*' || token === '>';
    if (isWildcard && !wildcards) return 'wildcards are only allowed in patterns';
    if (token === '>' && index !== tokens.length - 1) return '">" must be last';
    if (!isWildcard && /[*>]/.test(token)) return 'wildcards must be whole tokens';
  }
  return undefined;
}

/** True when `text` is a concrete subject: non-empty tokens, no wildcards, no white space. */
export function isConcreteSubject(text: string): boolean {
  return subjectProblem(text, false) === undefined;
}

/** @default 128: a tenant name is one token of the subjects of its objects (`tenant.{tenant}.…`). */
export const MAX_TENANT_NAME_LENGTH = 128;

/**
 * What is wrong with `name` as a tenant name, or undefined when nothing. A tenant's objects live
 * under the subject prefix `tenant.{tenant}.` (docs/auth.md), so a name must be exactly one
 * token: a dot, a wildcard or white space in it would reach into other subjects.
 */
export function tenantNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_TENANT_NAME_LENGTH) return `it is longer than ${MAX_TENANT_NAME_LENGTH} characters`;
  if (/[.*>\s\p{Cc}]/u.test(name))
    return 'it may not contain ".", "*", ">", white space or control characters';
  return undefined;
}
