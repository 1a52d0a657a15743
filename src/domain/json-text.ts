/**
 * A JSON value kept as the text the database returned for it (a recording's `data`, read as
 * `jsonb::text`). Replay splices the text into the frame it sends instead of parsing it into
 * objects only to serialize them again (src/server/delivery/page-template.ts); whoever needs the
 * value parses it (the JSON scalar does). The text keeps every digit the database holds: numbers
 * are not rounded on the way through.
 */
export class JsonText {
  constructor(readonly text: string) {}

  /** The value, parsed. */
  value(): unknown {
    return JSON.parse(this.text);
  }

  /** Serializes as the value it holds, wherever it ends up in a JSON.stringify. */
  toJSON(): unknown {
    return this.value();
  }
}
