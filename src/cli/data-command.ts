import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { CliError } from './cli-errors.ts';
import { graphql } from './gql/index.ts';
import { openLineOutput } from './line-output.ts';
import { writeDeviceMessage } from './message-output.ts';
import { parseDurationMs, parseId, parseInstant, parsePositiveInt } from './option-parsers.ts';
import { createProgress } from './progress-bar.ts';
import { createRandom } from './seeded-random.ts';
import { serverOptionsOf, withServerOptions } from './server-options.ts';
import { createStreamgateClient } from './streamgate-client.ts';
import { compileTemplate, HELPER_USAGE } from './template.ts';

/** With --seed and no --start, timestamps start here so the output is the same on every run. */
const SEEDED_START = '2026-01-01T00:00:00.000Z';

const DeviceTail = graphql(`
  subscription DeviceTail($deviceId: ID!) {
    deviceMessages(deviceId: $deviceId) {
      ...DeviceMessageFields
    }
  }
`);

/** `streamgate data generate|publish|tail`. */
export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('generate, publish and tail device telemetry');

  data
    .command('generate')
    .description('render a JSON template N times into a JSONL file (one monitor event per line)')
    .requiredOption('-c, --count <n>', 'number of records', parsePositiveInt)
    .requiredOption('-t, --template <file>', 'JSON template file, e.g. examples/templates/counter.json')
    .option('-o, --output <file>', 'JSONL file to write ("-" = stdout)', '-')
    .option('--seed <seed>', 'seed of the random helpers: the same seed gives the same output')
    .option(
      '--start <time>',
      `time of the first record (default: now; ${SEEDED_START} with --seed)`,
      parseInstant,
    )
    .addOption(
      new Option('--step <duration>', 'time between records').argParser(parseDurationMs).default(1000, '1s'),
    )
    .addHelpText(
      'after',
      `\nTemplate helpers, written "{{helper args}}" inside JSON strings:\n  ${HELPER_USAGE.join('\n  ')}\n` +
        'A string that is exactly one placeholder takes the helper\'s type ("{{randInt 1 9}}" → 7).\n' +
        'Example: streamgate data generate -c 100 -t examples/templates/counter.json -o counter.jsonl --seed 42',
    )
    .action(async (options: GenerateOptions) => generate(options));

  withServerOptions(
    data
      .command('publish')
      .description('POST the events of a JSONL file to /monitor/{device}, paced by --interval')
      .requiredOption('-d, --device-id <id>', 'device to publish as', parseId)
      .requiredOption('-f, --file <file>', 'JSONL file, one monitor event (or any JSON value) per line')
      .addOption(
        new Option('-i, --interval <duration>', 'pause between posts ("0s" = as fast as possible)')
          .argParser(parseDurationMs)
          .default(1000, '1s'),
      )
      .option('-b, --batch <n>', 'events per POST', parsePositiveInt, 1)
      .option('--restamp', "replace each event's timestamp with the time it is sent")
      .addHelpText(
        'after',
        '\nA line that is a JSON object with a "data" field is sent as the monitor event itself;\n' +
          'any other JSON value is sent as {"data": value}.\n' +
          'Example: streamgate data publish --device-id demo-1 --file counter.jsonl --interval 200ms',
      ),
  ).action(async (options: PublishOptions) => publish(options));

  withServerOptions(
    data
      .command('tail')
      .description("print a device's live messages, one JSON line each, until interrupted")
      .requiredOption('-d, --device-id <id>', 'device to follow', parseId)
      .option('--pretty', 'indented JSON instead of one line per message')
      .option('-n, --count <n>', 'exit after this many messages', parsePositiveInt)
      .addHelpText('after', '\nExample: streamgate data tail --device-id demo-1 --pretty'),
  ).action(async (options: TailOptions) => tail(options));
}

interface GenerateOptions {
  count: number;
  template: string;
  output: string;
  seed?: string;
  start?: string;
  step: number;
}

async function generate(options: GenerateOptions): Promise<void> {
  const template = compileTemplate(await readInput(options.template, 'template'), options.template);
  const random = createRandom(options.seed);
  const start = Date.parse(
    options.start ?? (options.seed === undefined ? new Date().toISOString() : SEEDED_START),
  );
  const output = await openLineOutput(options.output);
  const progress = createProgress('generate', {
    enabled: options.output !== '-' && process.stdout.isTTY === true,
    total: options.count,
  });
  for (let seq = 1; seq <= options.count; seq += 1) {
    const record = template.render({ seq, timestampMs: start + (seq - 1) * options.step, random });
    await output.write(JSON.stringify(record));
    progress.update(seq);
  }
  await output.close();
  progress.finish();
}

interface PublishOptions {
  deviceId: string;
  file: string;
  interval: number;
  batch: number;
  restamp?: boolean;
  server: string;
  token?: string;
}

async function publish(options: PublishOptions): Promise<void> {
  // The whole file is checked before the first post, so a bad line never leaves half a run behind.
  const events = parseJsonLines(await readInput(options.file, 'file'), options.file).map(toMonitorEvent);
  const client = createStreamgateClient(serverOptionsOf(options));
  const progress = createProgress(`publish ${options.deviceId}`, { total: events.length });
  const startedAt = Date.now();
  let sent = 0;
  for (let batch = 0; sent < events.length; batch += 1) {
    // Paced from the start time, so slow posts do not make the whole run drift.
    const due = startedAt + batch * options.interval;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    const slice = events.slice(sent, sent + options.batch);
    const stamped = options.restamp
      ? slice.map((event) => ({ ...event, timestamp: new Date().toISOString() }))
      : slice;
    await client.postMonitor(options.deviceId, stamped);
    sent += slice.length;
    progress.update(sent);
  }
  progress.finish();
  process.stderr.write(`published ${sent} event${sent === 1 ? '' : 's'} to device ${options.deviceId}\n`);
}

interface TailOptions {
  deviceId: string;
  pretty?: boolean;
  count?: number;
  server: string;
  token?: string;
}

async function tail(options: TailOptions): Promise<void> {
  const client = createStreamgateClient(serverOptionsOf(options));
  const output = await openLineOutput(undefined);
  let received = 0;
  try {
    for await (const result of client.subscribe(DeviceTail, { deviceId: options.deviceId })) {
      await writeDeviceMessage(output, result.deviceMessages, options.pretty);
      received += 1;
      if (options.count !== undefined && received >= options.count) break;
    }
  } finally {
    await client.close();
  }
  if (options.count !== undefined && received < options.count) {
    throw new CliError(`the server ended the stream after ${received} of ${options.count} messages`);
  }
}

/** Reads a file named by an option; a missing or unreadable file is a runtime error naming it. */
export async function readInput(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new CliError(`cannot read ${what} ${path}: ${reason}`, { cause: error });
  }
}

/** Parses JSONL, skipping blank lines; a bad line is an error naming its line number. */
function parseJsonLines(text: string, source: string): unknown[] {
  const values: unknown[] = [];
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch (error) {
      throw new CliError(`${source} line ${index + 1} is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (values.length === 0) throw new CliError(`${source} holds no events`);
  return values;
}

function toMonitorEvent(value: unknown): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'data' in value) {
    return value as Record<string, unknown>;
  }
  return { data: value };
}
