import type { DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { DEFAULT_MUTATION_ROLES } from '../../config/auth.ts';
import { ConfigError } from '../../config/env-reader.ts';
import type { AuthService } from '../../domain/auth/auth-service.ts';
import { missingToken } from '../../domain/auth/token-error.ts';
import type { GraphQLContext } from '../../domain/resolver-context.ts';
import { hasAnyRole } from '../../domain/viewer.ts';
import { ForbiddenError } from '../../errors.ts';
import { withHttpStatus } from './http-error.ts';
import { rootFieldNames, selectedOperation } from './root-fields.ts';

/**
 * Root fields that need no token when auth is configured (DESIGN.md, identity and access):
 * liveness (`health`, `serverTime`), `viewer` (null without a token) and introspection, which
 * INTROSPECTION=false turns off separately.
 */
export const PUBLIC_ROOT_FIELDS: Readonly<Record<'query' | 'mutation' | 'subscription', readonly string[]>> =
  {
    query: ['health', 'viewer', '__schema', '__type', '__typename'],
    mutation: ['__typename'],
    subscription: ['serverTime', '__typename'],
  };

/**
 * The one place where operations are refused for who is asking, on every transport (HTTP, SSE,
 * graphql-ws; the legacy adapters execute through the same envelop): UNAUTHENTICATED for a
 * caller without a token on anything but the public fields, FORBIDDEN naming the role for a
 * mutation the caller's roles do not cover (MUTATION_ROLES). Resolvers need not check either.
 */
export function useAuthGuard(auth: AuthService): Plugin<GraphQLContext> {
  // Root fields by document and operation: yoga's parser cache and the adapters' constant
  // documents hand the same nodes again (an AST is never changed in place), so each operation is
  // walked once, and only when a check needs its fields.
  const rootFields = new WeakMap<DocumentNode, Map<OperationDefinitionNode, ReadonlySet<string>>>();
  const fieldsOf = (document: DocumentNode, operation: OperationDefinitionNode): ReadonlySet<string> => {
    let byOperation = rootFields.get(document);
    if (byOperation === undefined) {
      byOperation = new Map();
      rootFields.set(document, byOperation);
    }
    let fields = byOperation.get(operation);
    if (fields === undefined) {
      fields = rootFieldNames(document, operation);
      byOperation.set(operation, fields);
    }
    return fields;
  };
  const check = (args: {
    document: Parameters<typeof rootFieldNames>[0];
    operationName?: string | null;
    contextValue: GraphQLContext;
  }): GraphQLError | undefined => {
    const operation = selectedOperation(args.document, args.operationName);
    if (!operation) return undefined; // graphql-js reports the missing operation itself
    const viewer = args.contextValue.viewer;
    if (viewer === null) {
      if (auth.anonymousAllowed) return undefined;
      const guarded = [...fieldsOf(args.document, operation)].filter(
        (field) => !PUBLIC_ROOT_FIELDS[operation.operation].includes(field),
      );
      return guarded.length === 0 ? undefined : withHttpStatus(missingToken(guarded.join(', ')));
    }
    if (operation.operation !== 'mutation') return undefined;
    for (const field of fieldsOf(args.document, operation)) {
      const roles = auth.rolesFor(field);
      if (!hasAnyRole(viewer, roles)) {
        const needed =
          roles.length === 1
            ? `the role "${roles[0]}"`
            : `one of the roles ${roles.map((role) => `"${role}"`).join(', ')}`;
        return withHttpStatus(
          new ForbiddenError(`mutation ${field} needs ${needed}`, { details: { requiredRoles: [...roles] } }),
        );
      }
    }
    return undefined;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = check(args as never);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = check(args as never);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}

/**
 * MUTATION_ROLES may only name mutations of the schema; a default for a mutation that no
 * domain has added yet is kept quietly. Throws ConfigError (exit 2) for a typo.
 */
export function checkMutationRoles(
  roles: Readonly<Record<string, readonly string[]>>,
  schema: GraphQLSchema,
): void {
  const mutations = schema.getMutationType()?.getFields() ?? {};
  const unknown = Object.keys(roles).filter(
    (name) => !(name in mutations) && !(name in DEFAULT_MUTATION_ROLES),
  );
  if (unknown.length === 0) return;
  throw new ConfigError([
    {
      variable: 'MUTATION_ROLES',
      value: unknown.join(', '),
      expected: `mutation names of the schema (${Object.keys(mutations).sort().join(', ') || 'none'})`,
    },
  ]);
}
