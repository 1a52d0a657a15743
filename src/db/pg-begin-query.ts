/**
 * Statements of one pg connection sent in one write and answered in one round trip: the
 * extended-query messages of each (Parse/Bind/Describe/Execute) one after the other, then one
 * Sync, optionally behind a BEGIN. Postgres runs them strictly in order, each a statement of its
 * own: under READ COMMITTED each takes its snapshot when the backend reaches it, after the one
 * before has finished (a statement that waited for a row lock is done before the next starts).
 * A BEGIN inside such a batch opens a transaction block that outlives its Sync, so the
 * statements run in the transaction as they would after `await client.query('BEGIN')`, without
 * that round trip (a socket write, a read and a parse on a hot path: monitor ingest, per
 * request). A failing statement skips the rest; the transaction is then open and aborted, as it
 * would be otherwise, and the caller rolls back.
 */
import { createRequire } from 'node:module';
import pg from 'pg';

/** One statement with its $1… parameters. */
export interface SqlStatement {
  readonly text: string;
  readonly params?: readonly unknown[];
}

/** The parts of pg's connection the extra statements use (not in pg's type declarations). */
interface ProtocolConnection {
  parse(message: { text: string }): void;
  bind(message: { values?: readonly unknown[]; valueMapper?: (value: unknown) => unknown }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: Record<string, never>): void;
}

type Prepare = (this: pg.Query, connection: ProtocolConnection) => void;
const prepareStatement = (pg.Query.prototype as unknown as { prepare: Prepare }).prepare;
/** pg's own mapping of a parameter to its wire text (what every pg query binds with). */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils') as {
  prepareValue: (value: unknown) => unknown;
};

class PipelinedQuery extends pg.Query {
  leading: readonly SqlStatement[] = [];
  begin = false;

  /** Always the extended protocol, whose messages the others ride in front of. */
  requiresPreparation(): boolean {
    return true;
  }

  prepare(connection: ProtocolConnection): void {
    if (this.begin) {
      connection.parse({ text: 'BEGIN' });
      connection.bind({});
      connection.execute({});
    }
    for (const statement of this.leading) {
      connection.parse({ text: statement.text });
      connection.bind({ values: statement.params ?? [], valueMapper: prepareValue });
      connection.describe({ type: 'P', name: '' });
      connection.execute({});
    }
    // The last statement, as pg sends any, with the batch's one Sync.
    prepareStatement.call(this, connection);
  }
}

/**
 * Runs `statements` in order in one round trip (behind a BEGIN when `begin`) and returns the
 * results of the statements, in order (BEGIN's apart).
 */
export function pipelinedQuery(
  client: pg.ClientBase,
  statements: readonly SqlStatement[],
  options: { readonly begin?: boolean; readonly rowMode?: 'array' } = {},
): Promise<pg.QueryResult[]> {
  const last = statements[statements.length - 1];
  if (!last) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const query = new PipelinedQuery(
      {
        text: last.text,
        values: (last.params ?? []) as unknown[],
        ...(options.rowMode ? { rowMode: options.rowMode } : {}),
      },
      (error, results) => {
        if (error) {
          reject(error);
          return;
        }
        // One result per statement (BEGIN's too), as for a multi-statement query.
        const all = results as unknown as pg.QueryResult | pg.QueryResult[];
        const list = Array.isArray(all) ? all : [all];
        resolve(options.begin ? list.slice(1) : list);
      },
    );
    query.leading = statements.slice(0, -1);
    query.begin = options.begin === true;
    client.query(query);
  });
}

/** Opens a transaction on `client` and runs `text` in it, in one round trip; its result. */
export async function queryAfterBegin(
  client: pg.ClientBase,
  text: string,
  params: readonly unknown[],
  rowMode?: 'array',
): Promise<pg.QueryResult> {
  const [result] = await pipelinedQuery(client, [{ text, params }], {
    begin: true,
    ...(rowMode ? { rowMode } : {}),
  });
  return result as pg.QueryResult;
}
