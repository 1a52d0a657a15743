import { type Command, Option } from 'commander';
import { CliError } from './cli-errors.ts';
import type { ListRecordingsQuery, RecordingFieldsFragment } from './gql/graphql.ts';
import { graphql } from './gql/index.ts';
import { openLineOutput } from './line-output.ts';
import { parseDurationMs, parseId } from './option-parsers.ts';
import { createProgress } from './progress-bar.ts';
import { exportRecording, type ImportOverrides, importRecording } from './recording-transfer.ts';
import { serverOptionsOf, withServerOptions } from './server-options.ts';
import { createStreamgateClient, type StreamgateClient } from './streamgate-client.ts';

const StartRecording = graphql(`
  mutation StartRecording(
    $deviceId: ID!
    $id: ID
    $retention: Duration
    $includeBuffer: Boolean
    $preRoll: Duration
    $note: String
  ) {
    startRecording(
      deviceId: $deviceId
      id: $id
      retention: $retention
      includeBuffer: $includeBuffer
      preRoll: $preRoll
      note: $note
    ) {
      ...RecordingFields
    }
  }
`);

const StopRecording = graphql(`
  mutation StopRecording($id: ID!) {
    stopRecording(id: $id) {
      ...RecordingFields
    }
  }
`);

const DeleteRecording = graphql(`
  mutation DeleteRecording($id: ID!) {
    deleteRecording(id: $id)
  }
`);

const ShowRecording = graphql(`
  query ShowRecording($id: ID!) {
    recording(id: $id) {
      ...RecordingFields
    }
  }
`);

const ListRecordings = graphql(`
  query ListRecordings($deviceId: ID, $first: Int, $after: String) {
    recordings(deviceId: $deviceId, first: $first, after: $after) {
      edges {
        node {
          ...RecordingFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

interface ServerFlags {
  server: string;
  token?: string;
}

interface StartOptions extends ServerFlags {
  deviceId: string;
  id?: string;
  retention?: number;
  includeBuffer: boolean;
  preRoll?: number;
  note?: string;
}

/** Milliseconds as the API's Duration scalar accepts them ("1500ms"). */
function durationOrNull(ms: number | undefined): string | null {
  return ms === undefined ? null : `${ms}ms`;
}

/** `streamgate record start|stop|ls|show|export|import|rm`. */
export function registerRecordCommands(program: Command): void {
  const record = program
    .command('record')
    .description('start, stop, list, show, export, import and delete recordings');

  withServerOptions(
    record
      .command('start')
      .description('start recording a device; prints the recording id')
      .requiredOption('-d, --device-id <id>', 'device to record', parseId)
      .option('--id <id>', 'the recording id (the legacy session_id); generated when absent', parseId)
      .option(
        '--retention <duration>',
        'how long the recording is kept after it stops (server default if unset)',
        parseDurationMs,
      )
      .option('--no-include-buffer', "do not copy the device's buffer window into the recording first")
      .option('--pre-roll <duration>', 'copy only this much of the buffer window', parseDurationMs)
      .option('--note <text>', 'free text kept with the recording')
      .addHelpText('after', '\nExample: streamgate record start --device-id demo-1 --retention 24h'),
  ).action(async (options: StartOptions) =>
    withClient(options, async (client) => {
      const { startRecording } = await client.request(StartRecording, {
        deviceId: options.deviceId,
        id: options.id ?? null,
        retention: durationOrNull(options.retention),
        includeBuffer: options.includeBuffer,
        preRoll: durationOrNull(options.preRoll),
        note: options.note ?? null,
      });
      process.stdout.write(`${startRecording.id}\n`);
    }),
  );

  withServerOptions(
    record
      .command('stop')
      .description('stop a recording')
      .argument('<id>', 'recording id', parseId)
      .addHelpText('after', '\nExample: streamgate record stop rec_123'),
  ).action(async (id: string, options: ServerFlags) =>
    withClient(options, async (client) => {
      const { stopRecording } = await client.request(StopRecording, { id });
      process.stdout.write(
        `${stopRecording.id} stopped: ${stopRecording.messageCount} messages, expires ${stopRecording.expiresAt ?? 'never'}\n`,
      );
    }),
  );

  withServerOptions(
    record
      .command('ls')
      .description('list recordings, newest first as the server orders them')
      .option('-d, --device-id <id>', 'only the recordings of this device', parseId)
      .option('--json', 'one JSON object per line instead of a table')
      .addHelpText('after', '\nExample: streamgate record ls --device-id demo-1'),
  ).action(async (options: ServerFlags & { deviceId?: string; json?: boolean }) =>
    withClient(options, async (client) => {
      const recordings = await listRecordings(client, options.deviceId);
      if (options.json) {
        for (const recording of recordings) process.stdout.write(`${JSON.stringify(recording)}\n`);
      } else {
        process.stdout.write(formatTable(recordings));
      }
    }),
  );

  withServerOptions(
    record
      .command('show')
      .description('show one recording')
      .argument('<id>', 'recording id', parseId)
      .option('--json', 'the recording as JSON')
      .addHelpText('after', '\nExample: streamgate record show rec_123'),
  ).action(async (id: string, options: ServerFlags & { json?: boolean }) =>
    withClient(options, async (client) => {
      const { recording } = await client.request(ShowRecording, { id });
      if (!recording) throw new CliError(`recording "${id}" not found`);
      if (options.json) process.stdout.write(`${JSON.stringify(recording, null, 2)}\n`);
      else {
        const width = Math.max(...Object.keys(recording).map((key) => key.length));
        for (const [key, value] of Object.entries(recording)) {
          process.stdout.write(`${key.padEnd(width)}  ${value ?? '-'}\n`);
        }
      }
    }),
  );

  withServerOptions(
    record
      .command('export')
      .description(
        'write a recording as JSONL: a metadata line, then one {"headers","data"} line per message',
      )
      .argument('<id>', 'recording id', parseId)
      .option('-o, --output <file>', 'JSONL file to write ("-" = stdout)', '-')
      .addHelpText('after', '\nExample: streamgate record export rec_123 -o rec_123.jsonl'),
  ).action(async (id: string, options: ServerFlags & { output: string }) =>
    withClient(options, async (client) => {
      const output = await openLineOutput(options.output);
      const progress = createProgress(`export ${id}`);
      const written = await exportRecording(client, id, output, progress);
      await output.close();
      progress.finish();
      process.stderr.write(`exported ${written} message${written === 1 ? '' : 's'} of recording ${id}\n`);
    }),
  );

  withServerOptions(
    record
      .command('import')
      .description('create a stopped recording from a JSONL export; prints its id')
      .argument('<file>', 'JSONL export, as written by record export')
      .option('--id <id>', "import under this id instead of the file's session_id", parseId)
      .addOption(
        new Option('--new-id', 'let the server pick a new id (to import next to the original)').conflicts(
          'id',
        ),
      )
      .option('-d, --device-id <id>', "assign the recording to this device instead of the file's", parseId)
      .addHelpText('after', '\nExample: streamgate record import rec_123.jsonl --new-id'),
  ).action(async (file: string, options: ServerFlags & ImportOverrides) =>
    withClient(options, async (client) => {
      const progress = createProgress(`import ${file}`);
      const { id, messages } = await importRecording(client, file, options, progress);
      progress.finish();
      process.stdout.write(`${id}\n`);
      process.stderr.write(`imported ${messages} message${messages === 1 ? '' : 's'} into recording ${id}\n`);
    }),
  );

  withServerOptions(
    record
      .command('rm')
      .description('delete a recording and its messages')
      .argument('<id>', 'recording id', parseId)
      .addHelpText('after', '\nExample: streamgate record rm rec_123'),
  ).action(async (id: string, options: ServerFlags) =>
    withClient(options, async (client) => {
      const { deleteRecording } = await client.request(DeleteRecording, { id });
      if (!deleteRecording) throw new CliError(`recording "${id}" not found`);
      process.stderr.write(`deleted recording ${id}\n`);
    }),
  );
}

async function withClient(
  options: ServerFlags,
  work: (client: StreamgateClient) => Promise<void>,
): Promise<void> {
  const client = createStreamgateClient(serverOptionsOf(options));
  try {
    await work(client);
  } finally {
    await client.close();
  }
}

async function listRecordings(
  client: StreamgateClient,
  deviceId: string | undefined,
): Promise<RecordingFieldsFragment[]> {
  const recordings: RecordingFieldsFragment[] = [];
  let after: string | null = null;
  for (;;) {
    // Annotated: `after` feeds back into the next request, which defeats inference.
    const result: ListRecordingsQuery = await client.request(ListRecordings, {
      deviceId: deviceId ?? null,
      first: 100,
      after,
    });
    const page = result.recordings;
    recordings.push(...page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return recordings;
    after = page.pageInfo.endCursor;
  }
}

function formatTable(recordings: readonly RecordingFieldsFragment[]): string {
  if (recordings.length === 0) return 'no recordings\n';
  const rows = [
    ['ID', 'DEVICE', 'STATUS', 'MESSAGES', 'STARTED', 'STOPPED'],
    ...recordings.map((recording) => [
      recording.id,
      recording.deviceId,
      recording.status,
      String(recording.messageCount),
      recording.startedAt,
      recording.stoppedAt ?? '-',
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}
