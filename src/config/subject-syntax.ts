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
