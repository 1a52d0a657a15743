/**
 * The ISM Stream API WebSocket (legacy.md A), as one protocol module: no envelope, every message
 * on the state's subject is one text frame, bytes unchanged. What streamgate adds is said with
 * close codes, since the old protocol has no error frame: ../close-codes.ts.
 */

/** The path parameters of the two routes. */
export interface StreamPath {
  readonly state: string;
  readonly session: string | null;
}
