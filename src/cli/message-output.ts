import type { DeviceMessageFieldsFragment } from './gql/graphql.ts';
import type { LineOutput } from './line-output.ts';

/** Writes a device message as one JSON line, or indented JSON with --pretty (tail and replay). */
export function writeDeviceMessage(
  output: LineOutput,
  message: DeviceMessageFieldsFragment,
  pretty: boolean | undefined,
): Promise<void> {
  return output.write(pretty ? JSON.stringify(message, null, 2) : JSON.stringify(message));
}
