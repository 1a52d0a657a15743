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
 *
 * A statement with a `name` is prepared once per connection: Postgres parses and plans it the
 * first time only, and later batches bind the prepared statement. For monitor ingest's two
 * statements that took the backend's CPU per request from ~270 to ~95 µs (with BEGIN and COMMIT;
 * 3,000 requests on one connection), time the request waits for before its publish. Which names
 * a connection holds is tracked here, not by pg (which tracks only a query's own name, and would
 * take a batch's earlier ParseComplete for it): a name counts as prepared once a batch that
 * prepared it succeeded; a batch that failed forgets its names, and the next one closes and
 * prepares them again (closing a name Postgres does not hold is no error).
 */
import { createRequire } from 'node:module';
import pg from 'pg';

/** One statement with its $1… parameters. */
export interface SqlStatement {
  readonly text: string;
  readonly params?: readonly unknown[];
  /**
   * Prepares the statement under this name once per connection (see above). One name, one text:
   * name only fixed statements of a hot path.
   */
  readonly name?: string;
}

/** The parts of pg's connection the extra statements use (not in pg's type declarations). */
interface ProtocolConnection {
  parse(message: { text: string; name?: string }): void;
  bind(message: {
    statement?: string;
    values?: readonly unknown[];
    valueMapper?: (value: unknown) => unknown;
  }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: Record<string, never>): void;
  close(message: { type: 'S'; name: string }): void;
  sync(): void;
}

/** pg's Query method that fails a query with an error (not in pg's type declarations). */
interface QueryInternals {
  handleError(error: unknown, connection: ProtocolConnection): void;
}

/** The statement names prepared on each connection (pg's Connection, keyed by identity). */
const preparedNames = new WeakMap<ProtocolConnection, Set<string>>();
/** pg's own mapping of a parameter to its wire text (what every pg query binds with). */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils') as {
  prepareValue: (value: unknown) => unknown;
};

class PipelinedQuery extends pg.Query {
  statements: readonly SqlStatement[] = [];
  begin = false;
  /** The connection the batch went out on, to record or forget its names when it is answered. */
  connection: ProtocolConnection | undefined;
  private settled = false;

  /** Always the extended protocol: every statement goes out as Parse/Bind/Describe/Execute. */
  requiresPreparation(): boolean {
    return true;
  }

  prepare(connection: ProtocolConnection): void {
    this.connection = connection;
    const prepared = preparedNames.get(connection);
    try {
      if (this.begin) {
        connection.parse({ text: 'BEGIN' });
        connection.bind({});
        connection.execute({});
      }
      for (const statement of this.statements) {
        const name = statement.name;
        if (name === undefined) connection.parse({ text: statement.text });
        else if (!prepared?.has(name)) {
          // Postgres may hold it from a batch that failed after its Parse: closed first.
          connection.close({ type: 'S', name });
          connection.parse({ text: statement.text, name });
        }
        connection.bind({
          ...(name === undefined ? {} : { statement: name }),
          values: statement.params ?? [],
          valueMapper: prepareValue,
        });
        connection.describe({ type: 'P', name: '' });
        connection.execute({});
      }
    } catch (error) {
      // A parameter pg cannot bind: what went out is ended with the Sync and the batch fails
      // with that error, as pg does with a query of its own.
      connection.sync();
      (this as unknown as QueryInternals).handleError(error, connection);
      return;
    }
    connection.sync();
  }

  /**
   * After the batch's answer (the first one: pg answers a batch it could not bind twice, the
   * error first): its names are prepared if it succeeded, in doubt if it failed.
   */
  settle(succeeded: boolean): void {
    const connection = this.connection;
    if (this.settled || !connection) return;
    this.settled = true;
    const names = this.statements.flatMap((statement) =>
      statement.name === undefined ? [] : [statement.name],
    );
    if (names.length === 0) return;
    let prepared = preparedNames.get(connection);
    if (!succeeded) {
      for (const name of names) prepared?.delete(name);
      return;
    }
    if (!prepared) {
      prepared = new Set();
      preparedNames.set(connection, prepared);
    }
    for (const name of names) prepared.add(name);
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
        query.settle(!error);
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
    query.statements = statements;
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
