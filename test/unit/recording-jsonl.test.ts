import { describe, expect, it } from 'vitest';
import {
  formatGoDuration,
  formatMessageLine,
  formatMetadataLine,
  JsonlFormatError,
  monitorEventOf,
  parseJsonlLine,
  parseRetention,
  readRecordingJsonl,
  recordedMessageOf,
} from '../../src/formats/recording-jsonl.ts';

const metadata = {
  sessionId: 'rec_1',
  deviceId: 'd1',
  start: new Date('2026-01-15T10:00:00Z'),
  end: new Date('2026-01-15T11:00:00Z'),
  messageCount: 2,
  retentionMs: 86_400_000,
  note: 'demo',
};

describe('JSONL export format (legacy.md C)', () => {
  it('writes the metadata line ApiGear wrote', () => {
    expect(JSON.parse(formatMetadataLine(metadata))).toEqual({
      metadata: {
        session_id: 'rec_1',
        device_id: 'd1',
        start: '2026-01-15T10:00:00.000Z',
        end: '2026-01-15T11:00:00.000Z',
        message_count: 2,
        retention: '24h',
        note: 'demo',
      },
    });
  });

  it('writes a message line from a DeviceMessage, keeping its own headers', () => {
    const line = formatMessageLine(
      recordedMessageOf({
        deviceId: 'd1',
        seq: 5,
        timestamp: '2026-01-15T10:00:01.000Z',
        eventId: 'e5',
        type: 'signal',
        symbol: 'demo.Counter',
        data: { n: 5 },
        headers: { 'X-Monitor-Timestamp': '2026-01-15T10:00:01.000000123Z' },
      }),
    );
    expect(JSON.parse(line)).toEqual({
      headers: {
        'X-Monitor-Device': 'd1',
        'X-Monitor-Id': 'e5',
        'X-Monitor-Type': 'signal',
        'X-Monitor-Timestamp': '2026-01-15T10:00:01.000000123Z',
        'X-Monitor-Symbol': 'demo.Counter',
        'X-Monitor-Seq': '5',
      },
      data: { n: 5 },
    });
  });

  it('round-trips: write, read, and back to a monitor event', async () => {
    const message = recordedMessageOf({
      deviceId: 'd1',
      seq: 1,
      timestamp: new Date('2026-01-15T10:00:01Z'),
      eventId: 'e1',
      type: 'call',
      symbol: 's',
      data: [1, 'two', null],
    });
    const lines = [formatMetadataLine(metadata), '', formatMessageLine(message)];
    const read = [];
    for await (const line of readRecordingJsonl(lines)) read.push(line);
    expect(read).toEqual([
      { kind: 'metadata', metadata },
      { kind: 'message', message },
    ]);
    expect(monitorEventOf(message)).toEqual({
      id: 'e1',
      type: 'call',
      timestamp: '2026-01-15T10:00:01Z',
      symbol: 's',
      data: [1, 'two', null],
    });
  });

  it.each([
    ['{', 3, /line 3: not JSON/],
    ['[1]', 3, /line 3: not a JSON object/],
    ['{"metadata":{}}', 1, /line 1: metadata.device_id is missing/],
    ['{"metadata":{"device_id":"d","retention":"forever"}}', 1, /retention "forever"/],
    ['{"metadata":{"device_id":"d","start":"monday"}}', 1, /metadata.start must be an RFC3339/],
    ['{"metadata":{"device_id":"d","message_count":-1}}', 1, /message_count/],
    ['{"headers":{}}', 2, /neither "metadata" nor "data"/],
    ['{"headers":{"X":{}},"data":1}', 4, /line 4: .*header "X" must be a string/],
  ])('refuses %s naming the line', (text, line, message) => {
    expect(() => parseJsonlLine(text, line)).toThrow(message);
    try {
      parseJsonlLine(text, line);
    } catch (error) {
      expect(error).toBeInstanceOf(JsonlFormatError);
      expect((error as JsonlFormatError).line).toBe(line);
    }
  });

  it('needs the metadata line first, and only once', async () => {
    const read = async (lines: string[]) => {
      for await (const _ of readRecordingJsonl(lines)) {
        // consume
      }
    };
    await expect(read(['{"data":1}'])).rejects.toThrow(/line 1: the first line must be/);
    await expect(read([formatMetadataLine(metadata), formatMetadataLine(metadata)])).rejects.toThrow(
      /line 2: a second metadata line/,
    );
    await expect(read([])).rejects.toThrow(/empty export/);
  });

  it.each([
    ['24h', 86_400_000],
    ['24h0m0s', 86_400_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
    ['500ms', 500],
    ['7d', 604_800_000],
    ['PT5M', 300_000],
  ])('reads the retention %s', (text, ms) => {
    expect(parseRetention(text)).toBe(ms);
  });

  it.each([
    [86_400_000, '24h'],
    [5_400_000, '1h30m'],
    [1_500, '1.5s'],
    [0, '0s'],
  ])('writes %i ms as %s', (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
  });
});
