import { BadUserInputError } from '../../errors.ts';

/**
 * Route selectors of the state router (docs/ism.md, "Selectors"). A selector is matched
 * against a key: a state id (forwarding) or a legacy `route_id` (`query_state_route`). Keys and
 * selectors are token paths; a selector is written either in the legacy form with `/` or in the
 * broker form with `.`, never both:
 *
 * - no wildcard: exact match (`orders/eu`, `orders.eu` and a state id `orders/eu` are the same path);
 * - legacy form ending in `/*`: prefix match, any depth (`orders/*` matches `orders/eu/42`);
 * - otherwise `*` matches one token and a final `>` one or more (`orders.*`, `orders.*.42`, `orders.>`).
 */

/** How a selector matches. `exact` beats the others when one key has several matches. */
export const SELECTOR_KIND = { EXACT: 'exact', PREFIX: 'prefix', PATTERN: 'pattern' } as const;
export type SelectorKind = (typeof SELECTOR_KIND)[keyof typeof SELECTOR_KIND];

export interface ParsedSelector {
  readonly text: string;
  readonly kind: SelectorKind;
  /** The selector's tokens; for a prefix selector without its final `*`. */
  readonly tokens: readonly string[];
}

/** A selector that breaks the rules above; the message says which. */
export class InvalidSelectorError extends BadUserInputError {
  constructor(selector: string, reason: string) {
    super(`invalid selector "${selector}": ${reason}`);
  }
}

/** Splits a key (state id or route id) into tokens: `/` and `.` both separate. */
export function keyTokens(key: string): string[] {
  return key.split(/[/.]/);
}

/** Parses and checks a selector; throws InvalidSelectorError naming the rule it breaks. */
export function parseSelector(text: string): ParsedSelector {
  if (text.length === 0) throw new InvalidSelectorError(text, 'empty');
  if (/\s/.test(text)) throw new InvalidSelectorError(text, 'white space is not allowed');
  const slashes = text.includes('/');
  if (slashes && text.includes('.')) {
    throw new InvalidSelectorError(text, 'use either "/" (legacy form) or "." (broker form) between tokens');
  }
  const tokens = text.split(slashes ? '/' : '.');
  tokens.forEach((token, index) => {
    if (token === '') throw new InvalidSelectorError(text, 'empty token');
    if ((token.includes('*') || token.includes('>')) && token !== '*' && token !== '>') {
      throw new InvalidSelectorError(text, 'wildcards must be whole tokens');
    }
    if (token === '>' && index !== tokens.length - 1)
      throw new InvalidSelectorError(text, '">" must be last');
  });
  const hasWildcard = tokens.some((token) => token === '*' || token === '>');
  if (!hasWildcard) return { text, kind: SELECTOR_KIND.EXACT, tokens };
  const legacyPrefix = slashes && tokens.at(-1) === '*' && tokens.slice(0, -1).every(isLiteral);
  if (legacyPrefix) return { text, kind: SELECTOR_KIND.PREFIX, tokens: tokens.slice(0, -1) };
  return { text, kind: SELECTOR_KIND.PATTERN, tokens };
}

function isLiteral(token: string): boolean {
  return token !== '*' && token !== '>';
}

/** True when the selector matches the key. */
export function selectorMatches(selector: ParsedSelector, key: string): boolean {
  const keyParts = keyTokens(key);
  const { tokens } = selector;
  switch (selector.kind) {
    case SELECTOR_KIND.EXACT:
      return keyParts.length === tokens.length && tokens.every((token, index) => token === keyParts[index]);
    case SELECTOR_KIND.PREFIX:
      return keyParts.length > tokens.length && tokens.every((token, index) => token === keyParts[index]);
    case SELECTOR_KIND.PATTERN:
      for (let index = 0; index < tokens.length; index++) {
        const token = tokens[index];
        if (token === '>') return keyParts.length > index;
        if (index >= keyParts.length) return false;
        if (token !== '*' && token !== keyParts[index]) return false;
      }
      return keyParts.length === tokens.length;
  }
}
