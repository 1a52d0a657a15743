import type { Command } from 'commander';
import { CliError } from './cli-errors.ts';
import { graphql } from './gql/index.ts';
import { openLineOutput } from './line-output.ts';
import { writeDeviceMessage } from './message-output.ts';
import { parseId, parseInstant, parseSpeed } from './option-parsers.ts';
import { createProgress } from './progress-bar.ts';
import { serverOptionsOf, withServerOptions } from './server-options.ts';
import { createStreamgateClient } from './streamgate-client.ts';

const RecordingReplay = graphql(`
  subscription RecordingReplay($recordingId: ID!, $from: DateTime, $speed: Float, $loop: Boolean) {
    replay(recordingId: $recordingId, from: $from, speed: $speed, loop: $loop) {
      recordingId
      progress
      message {
        ...DeviceMessageFields
      }
    }
  }
`);

interface ReplayOptions {
  recording: string;
  speed: number;
  from?: string;
  loop?: boolean;
  pretty?: boolean;
  server: string;
  token?: string;
}

/** `streamgate replay`: a recording's messages in original order and pacing, one JSON line each. */
export function registerReplayCommand(program: Command): void {
  withServerOptions(
    program
      .command('replay')
      .description("replay a recording's messages with their original pacing, one JSON line each")
      .requiredOption('-r, --recording <id>', 'recording to replay', parseId)
      .option('-s, --speed <x>', 'playback speed: 2 = twice as fast, 0 = as fast as possible', parseSpeed, 1)
      .option('--from <time>', 'start at this instant of the recording (ISO-8601)', parseInstant)
      .option('--loop', 'start over at the end, until interrupted')
      .option('--pretty', 'indented JSON instead of one line per message')
      .addHelpText('after', '\nExample: streamgate replay --recording rec_123 --speed 10'),
  ).action(async (options: ReplayOptions) => replay(options));
}

async function replay(options: ReplayOptions): Promise<void> {
  const client = createStreamgateClient(serverOptionsOf(options));
  const output = await openLineOutput(undefined);
  const progress = createProgress(`replay ${options.recording}`, { total: 100 });
  let count = 0;
  try {
    const events = client.subscribe(RecordingReplay, {
      recordingId: options.recording,
      speed: options.speed,
      from: options.from ?? null,
      loop: options.loop === true,
    });
    for await (const { replay: event } of events) {
      await writeDeviceMessage(output, event.message, options.pretty);
      count += 1;
      progress.update(Math.round(event.progress * 100));
    }
  } finally {
    await client.close();
  }
  progress.finish();
  if (count === 0 && options.from === undefined) {
    throw new CliError(`recording ${options.recording} has no messages to replay`);
  }
}
