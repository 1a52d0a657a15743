/**
 * The first statement of a pg transaction with its BEGIN in the same write and the same round
 * trip: Parse/Bind/Execute of BEGIN go in front of the statement's own messages, before their one
 * Sync. Postgres runs both in order and keeps the transaction open after that Sync (a BEGIN inside
 * an extended-query batch opens a transaction block that outlives it), so the statement runs in
 * the transaction as it would after `await client.query('BEGIN')`, one round trip sooner: that
 * round trip was a socket write, a read and a parse on a hot path (monitor ingest) per request.
 * Should the statement fail, the transaction is open and aborted, as it would be otherwise: the
 * caller rolls back.
 */
import pg from 'pg';

/** The parts of pg's connection that the BEGIN's messages use (not in pg's type declarations). */
interface ProtocolConnection {
  parse(message: { text: string }): void;
  bind(message: Record<string, never>): void;
  execute(message: Record<string, never>): void;
}

type Prepare = (this: pg.Query, connection: ProtocolConnection) => void;
const prepareStatement = (pg.Query.prototype as unknown as { prepare: Prepare }).prepare;

class QueryAfterBegin extends pg.Query {
  /** Always the extended protocol, whose messages the BEGIN rides in front of. */
  requiresPreparation(): boolean {
    return true;
  }

  prepare(connection: ProtocolConnection): void {
    connection.parse({ text: 'BEGIN' });
    connection.bind({});
    connection.execute({});
    prepareStatement.call(this, connection);
  }
}

/** Opens a transaction on `client` and runs `text` in it, in one round trip; its result only. */
export function queryAfterBegin(
  client: pg.ClientBase,
  text: string,
  values: readonly unknown[],
  rowMode?: 'array',
): Promise<pg.QueryResult> {
  return new Promise((resolve, reject) => {
    const query = new QueryAfterBegin(
      { text, values: values as unknown[], ...(rowMode ? { rowMode } : {}) },
      (error, results) => {
        if (error) {
          reject(error);
          return;
        }
        // Two results, BEGIN's and the statement's, as for a multi-statement query.
        const all = results as unknown as pg.QueryResult | pg.QueryResult[];
        resolve(Array.isArray(all) ? (all[all.length - 1] as pg.QueryResult) : all);
      },
    );
    client.query(query);
  });
}
