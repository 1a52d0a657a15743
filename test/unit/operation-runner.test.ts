import { type ExecutionResult, GraphQLError } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import type { InitialContext } from '../../src/server/graphql-context.ts';
import { createOperationRunner, type Yoga } from '../../src/server/operation-runner.ts';

/**
 * A yoga whose context carries what an envelop plugin put on the initial context while the
 * document was parsed, and which counts envelop's init hook (onEnveloped) per operation.
 */
function runnerWithPlugins(
  contextFactory: (initial: Record<string, unknown>) => unknown = (initial) => initial,
) {
  const seen = { enveloped: 0 };
  const tagOnParse: Plugin<Record<string, unknown>> = {
    onEnveloped() {
      seen.enveloped += 1;
    },
    onParse({ extendContext }) {
      extendContext({ parsedBy: 'tag-plugin' });
    },
  };
  const yoga = createYoga({
    schema: createSchema<Record<string, unknown>>({
      typeDefs: 'type Query { parsedBy: String, echo(text: String!): String! }',
      resolvers: {
        Query: {
          parsedBy: (_root: unknown, _args: unknown, context: { parsedBy?: string }) =>
            context.parsedBy ?? null,
          echo: (_root: unknown, args: { text: string }) => args.text,
        },
      },
    }),
    context: (initial) =>
      contextFactory(initial as unknown as Record<string, unknown>) as Record<string, unknown>,
    plugins: [tagOnParse],
    logging: false,
  }) as unknown as Yoga;
  const runner = createOperationRunner(
    () => yoga,
    (error) => (error instanceof Error ? error : new Error(String(error))),
  );
  return { runner, seen };
}

describe('OperationRunner.perform', () => {
  it('runs the operation on the context its parse hooks extended, with one envelop init per operation', async () => {
    const { runner, seen } = runnerWithPlugins();
    const result = (await runner.perform(
      { query: 'query($t: String!) { parsedBy echo(text: $t) }', variables: { t: 'hello' } },
      {} as InitialContext,
    )) as ExecutionResult;
    expect(result).toEqual({ data: { parsedBy: 'tag-plugin', echo: 'hello' } });
    expect(seen.enveloped).toBe(1);

    await runner.perform({ query: '{ echo(text: "again") }' }, {} as InitialContext);
    expect(seen.enveloped).toBe(2);
  });

  it('answers a document that does not parse or validate with its errors and runs nothing', async () => {
    let contexts = 0;
    const { runner } = runnerWithPlugins((initial) => {
      contexts += 1;
      return initial;
    });
    const syntax = (await runner.perform({ query: '{ echo(' }, {} as InitialContext)) as ExecutionResult;
    expect(syntax.data).toBeUndefined();
    expect(syntax.errors?.[0]?.message).toMatch(/^Syntax Error/);
    const invalid = (await runner.perform({ query: '{ nope }' }, {} as InitialContext)) as ExecutionResult;
    expect(invalid.errors?.[0]?.message).toBe('Cannot query field "nope" on type "Query".');
    expect(contexts).toBe(0);
  });

  it('answers a context that cannot be built (a refused token, say) with that error', async () => {
    const { runner } = runnerWithPlugins(() => {
      throw new GraphQLError('token expired', { extensions: { code: 'UNAUTHENTICATED' } });
    });
    const result = (await runner.perform(
      { query: '{ echo(text: "x") }' },
      {} as InitialContext,
    )) as ExecutionResult;
    expect(result.data).toBeUndefined();
    expect(result.errors?.map((error) => [error.message, error.extensions?.code])).toEqual([
      ['token expired', 'UNAUTHENTICATED'],
    ]);
  });
});
