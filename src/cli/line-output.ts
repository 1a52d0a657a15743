import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { CliError } from './cli-errors.ts';

/** Where a command writes its lines: a file, or stdout for `-` / no file. Honors backpressure. */
export interface LineOutput {
  write(line: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens `path` for writing (truncating it), or stdout when path is undefined or "-". */
export async function openLineOutput(path: string | undefined): Promise<LineOutput> {
  const toStdout = path === undefined || path === '-';
  const stream: Writable = toStdout ? process.stdout : createWriteStream(path);
  let failure: Error | undefined;
  stream.on('error', (error) => {
    failure = error;
  });
  if (!toStdout) {
    await Promise.race([once(stream, 'open'), once(stream, 'error')]).catch(() => undefined);
    if (failure) throw new CliError(`cannot write ${path}: ${failure.message}`, { cause: failure });
  }
  return {
    async write(line) {
      if (failure)
        throw new CliError(`cannot write ${path ?? 'stdout'}: ${failure.message}`, { cause: failure });
      if (!stream.write(`${line}\n`)) await once(stream, 'drain');
    },
    async close() {
      if (toStdout) return;
      await new Promise<void>((resolve, reject) =>
        stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
    },
  };
}
