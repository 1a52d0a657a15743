import {
  type ArgumentNode,
  type ASTVisitor,
  GraphQLError,
  Kind,
  type ValidationContext,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { LimitsConfig } from '../../config/limits.ts';
import {
  describeJsonViolation,
  findJsonViolation,
  JSON_VIOLATIONS,
  type JsonViolation,
  unstorableTextIn,
} from '../../domain/json-bounds.ts';
import { BadUserInputError } from '../../errors.ts';
import type { Metrics } from '../../metrics.ts';
import { withHttpStatus } from '../auth/http-error.ts';
import { limitRefusals } from './limits-plugins.ts';

const LIMIT = 'MAX_JSON_DEPTH';

function boundsError(what: string, violation: JsonViolation, maxDepth: number): BadUserInputError {
  return new BadUserInputError(`${what} ${describeJsonViolation(violation, maxDepth)}`, {
    details: violation.kind === JSON_VIOLATIONS.DEPTH ? { limit: LIMIT } : {},
  });
}

/** The first too-deep or unstorable place in a literal argument; the AST is walked without recursion. */
function literalViolation(root: ValueNode, maxDepth: number): JsonViolation | undefined {
  const stack: Array<{ node: ValueNode; depth: number; path: string }> = [{ node: root, depth: 0, path: '' }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { node, path } = frame;
    if (node.kind === Kind.STRING) {
      const kind = unstorableTextIn(node.value);
      if (kind) return { kind, path };
      continue;
    }
    if (node.kind !== Kind.LIST && node.kind !== Kind.OBJECT) continue;
    const depth = frame.depth + 1;
    if (depth > maxDepth) return { kind: JSON_VIOLATIONS.DEPTH, path };
    if (node.kind === Kind.LIST) {
      node.values.forEach((value, index) => {
        stack.push({ node: value, depth, path: `${path}[${index}]` });
      });
    } else {
      for (const field of node.fields) {
        stack.push({ node: field.value, depth, path: `${path}.${field.name.value}` });
      }
    }
  }
  return undefined;
}

/** Literal arguments in the document: nested at most MAX_JSON_DEPTH, and only storable text. */
function literalBoundsRule(maxDepth: number): (context: ValidationContext) => ASTVisitor {
  return (context) => ({
    Argument(argument: ArgumentNode) {
      const violation = literalViolation(argument.value, maxDepth);
      if (!violation) return;
      const error = boundsError(`argument "${argument.name.value}"`, violation, maxDepth);
      context.reportError(
        new GraphQLError(error.message, { nodes: [argument], extensions: error.extensions }),
      );
    },
  });
}

/** Checks every variable; the first violation as the error a client sees (HTTP 400). */
function variablesViolation(variables: unknown, maxDepth: number): GraphQLError | undefined {
  if (typeof variables !== 'object' || variables === null) return undefined;
  for (const [name, value] of Object.entries(variables)) {
    const violation = findJsonViolation(value, maxDepth);
    if (violation) return withHttpStatus(boundsError(`variable "$${name}"`, violation, maxDepth));
  }
  return undefined;
}

/**
 * JSON input is bounded before anything walks it: variables and literal
 * arguments nested deeper than MAX_JSON_DEPTH, or holding NUL or an unpaired surrogate (which
 * Postgres refuses or alters), are BAD_USER_INPUT naming the variable or argument and the path.
 * Every transport executes through yoga's envelop, so this holds for all of them.
 */
export function useInputBounds(limits: LimitsConfig, metrics: Metrics): Plugin {
  const refusals = limitRefusals(metrics);
  const rule = literalBoundsRule(limits.maxJsonDepth);
  const refuse = (variables: unknown): GraphQLError | undefined => {
    const error = variablesViolation(variables, limits.maxJsonDepth);
    if (error?.extensions.limit === LIMIT) refusals.inc({ limit: LIMIT });
    return error;
  };
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(rule);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const error = refuse(args.variableValues);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = refuse(args.variableValues);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
