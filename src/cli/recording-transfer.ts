import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseDuration } from '../config/duration.ts';
import { messageOf } from '../errors.ts';
import {
  formatMessageLine,
  formatMetadataLine,
  JsonlFormatError,
  type JsonlLine,
  type RecordingMetadata,
  readRecordingJsonl,
  recordedMessageOf,
} from '../formats/recording-jsonl.ts';
import { CliError } from './cli-errors.ts';
import type {
  ExportRecordingMessagesQuery,
  ImportRecordingInput,
  RecordedMessageInput,
} from './gql/graphql.ts';
import { graphql } from './gql/index.ts';
import type { LineOutput } from './line-output.ts';
import type { Progress } from './progress-bar.ts';
import type { StreamgateClient } from './streamgate-client.ts';

// `record export` and `record import`: the JSONL format of legacy.md C, written and read by the
// module the CLI and the server share (src/formats/recording-jsonl.ts) so that it exists once.

const ExportRecording = graphql(`
  query ExportRecording($id: ID!) {
    recording(id: $id) {
      ...RecordingFields
    }
  }
`);

const ExportRecordingMessages = graphql(`
  query ExportRecordingMessages($id: ID!, $first: Int, $after: String) {
    recording(id: $id) {
      messages(first: $first, after: $after) {
        edges {
          node {
            deviceId
            seq
            timestamp
            eventId
            type
            symbol
            data
            headers
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

const ImportRecording = graphql(`
  mutation ImportRecording($input: ImportRecordingInput!, $messages: [RecordedMessageInput!]!) {
    importRecording(input: $input, messages: $messages) {
      ...RecordingFields
    }
  }
`);

const DeleteImportedRecording = graphql(`
  mutation DeleteImportedRecording($id: ID!) {
    deleteRecording(id: $id)
  }
`);

const AppendRecordingMessages = graphql(`
  mutation AppendRecordingMessages($recordingId: ID!, $messages: [RecordedMessageInput!]!) {
    appendRecordingMessages(recordingId: $recordingId, messages: $messages) {
      ...RecordingFields
    }
  }
`);

/** Messages per page when exporting (the API's largest page). */
const EXPORT_PAGE = 1000;
/** Bounds of one import request, well under the server's default 1 MiB body limit. */
const IMPORT_CHUNK_MESSAGES = 1000;
const IMPORT_CHUNK_BYTES = 256 * 1024;

/**
 * Writes a recording as JSONL: the metadata line, then its messages in order, page by page. A
 * recording still running is exported as far as it had got when the export started, so the
 * file's message_count matches its lines.
 */
export async function exportRecording(
  client: StreamgateClient,
  id: string,
  output: LineOutput,
  progress: Progress,
): Promise<number> {
  const { recording } = await client.request(ExportRecording, { id });
  if (!recording) throw new CliError(`recording "${id}" not found`);
  const total = recording.messageCount;
  await output.write(
    formatMetadataLine({
      sessionId: recording.id,
      deviceId: recording.deviceId,
      start: new Date(recording.startedAt),
      end: recording.stoppedAt ? new Date(recording.stoppedAt) : null,
      messageCount: total,
      retentionMs: parseDuration(recording.retention) ?? null,
      note: recording.note ?? null,
    }),
  );
  progress.update(0, total);
  let written = 0;
  let after: string | null = null;
  while (written < total) {
    // Annotated: `after` feeds back into the next request, which defeats inference.
    const page: ExportRecordingMessagesQuery = await client.request(ExportRecordingMessages, {
      id,
      first: Math.min(EXPORT_PAGE, total - written),
      after,
    });
    if (!page.recording) throw new CliError(`recording ${id} was deleted during the export`);
    const { edges, pageInfo } = page.recording.messages;
    for (const { node } of edges) {
      await output.write(formatMessageLine(recordedMessageOf(node)));
      written += 1;
    }
    progress.update(written);
    if (!pageInfo.hasNextPage || !pageInfo.endCursor || edges.length === 0) break;
    after = pageInfo.endCursor;
  }
  if (written < total) {
    throw new CliError(`recording ${id} holds ${written} messages, fewer than the ${total} it counted`);
  }
  return written;
}

/** What `record import` may change of the metadata line. */
export interface ImportOverrides {
  /** Import under this id instead of the metadata's session_id. */
  readonly id?: string | undefined;
  /** Let the server generate the id (e.g. to import into the server the file came from). */
  readonly newId?: boolean | undefined;
  readonly deviceId?: string | undefined;
}

/**
 * Imports a JSONL export. The file is checked whole first (read line by line, never held in
 * memory), so a bad line fails before anything is created. Then the metadata line and the first
 * chunk of messages create a stopped recording and the next chunks are appended, so requests stay
 * small whatever the file's size. A failure after the recording was created deletes it again.
 */
export async function importRecording(
  client: StreamgateClient,
  path: string,
  overrides: ImportOverrides,
  progress: Progress,
): Promise<{ id: string; messages: number }> {
  let total = 0;
  for await (const line of readExport(path)) if (line.kind === 'message') total += 1;
  progress.update(0, total);

  let recordingId: string | undefined;
  let input: ImportRecordingInput | undefined;
  let chunk: RecordedMessageInput[] = [];
  let chunkBytes = 0;
  let imported = 0;
  const flush = async (): Promise<void> => {
    if (!input) return;
    if (recordingId === undefined) {
      const { importRecording: created } = await client.request(ImportRecording, { input, messages: chunk });
      recordingId = created.id;
    } else if (chunk.length > 0) {
      await client.request(AppendRecordingMessages, { recordingId, messages: chunk });
    }
    imported += chunk.length;
    progress.update(imported);
    chunk = [];
    chunkBytes = 0;
  };

  try {
    for await (const line of readExport(path)) {
      if (line.kind === 'metadata') {
        input = importInputOf(line.metadata, overrides);
        continue;
      }
      const size = Buffer.byteLength(formatMessageLine(line.message));
      if (
        chunk.length >= IMPORT_CHUNK_MESSAGES ||
        (chunk.length > 0 && chunkBytes + size > IMPORT_CHUNK_BYTES)
      ) {
        await flush();
      }
      chunk.push({ headers: line.message.headers, data: line.message.data });
      chunkBytes += size;
    }
    await flush();
  } catch (error) {
    if (recordingId !== undefined) {
      // Half an import is worse than none: the user would replay a recording with a hole.
      const id = recordingId;
      await client.request(DeleteImportedRecording, { id }).catch(() => undefined);
      throw new CliError(`${messageOf(error)} (the partly imported recording ${id} was deleted)`, {
        cause: error,
      });
    }
    throw error;
  }
  if (recordingId === undefined) throw new CliError(`${path} holds no metadata line`);
  return { id: recordingId, messages: imported };
}

function importInputOf(metadata: RecordingMetadata, overrides: ImportOverrides): ImportRecordingInput {
  return {
    deviceId: overrides.deviceId ?? metadata.deviceId,
    id: overrides.newId ? null : (overrides.id ?? (metadata.sessionId || null)),
    note: metadata.note,
    retention: metadata.retentionMs === null ? null : `${metadata.retentionMs}ms`,
    startedAt: metadata.start?.toISOString() ?? null,
    stoppedAt: metadata.end?.toISOString() ?? null,
  };
}

/** The lines of an export file, parsed; a bad line is a CliError naming the file and the line. */
async function* readExport(path: string): AsyncGenerator<JsonlLine> {
  const stream = createReadStream(path, { encoding: 'utf8' });
  try {
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new CliError(`cannot read ${path}: ${reason}`, { cause: error });
  }
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    yield* readRecordingJsonl(lines);
  } catch (error) {
    if (error instanceof JsonlFormatError) throw new CliError(`${path} ${error.message}`, { cause: error });
    throw error;
  } finally {
    lines.close();
    stream.destroy();
  }
}
