import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { killCliProcesses, runCli, startCli } from '../helpers/cli-process.ts';
import { backendOptions, DEVICE_BACKENDS, uniqueDevice } from '../helpers/devices.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

interface GeneratedEvent {
  readonly type: string;
  readonly symbol: string;
  readonly timestamp: string;
  readonly data: Record<string, unknown>;
}

interface PrintedMessage {
  readonly deviceId: string;
  readonly seq: number;
  readonly timestamp: string;
  readonly type: string | null;
  readonly symbol: string | null;
  readonly data: Record<string, unknown>;
}

const COUNT = 20;
const STEP_MS = 100;

function jsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

describe.each(DEVICE_BACKENDS)('the streamgate CLI against a running server (%s)', (backend) => {
  let server: TestApp;
  let dir: string;
  let env: Record<string, string>;
  let eventsFile: string;
  let events: GeneratedEvent[];

  beforeAll(async () => {
    server = await startTestApp(backendOptions(backend));
    dir = await mkdtemp(join(tmpdir(), 'streamgate-cli-e2e-'));
    env = { STREAMGATE_URL: server.url };
    eventsFile = join(dir, 'counter.jsonl');
    const generated = await runCli([
      'data',
      'generate',
      '-c',
      String(COUNT),
      '-t',
      'examples/templates/counter.json',
      '-o',
      eventsFile,
      '--seed',
      backend,
      '--start',
      '2026-02-01T08:00:00Z',
      '--step',
      `${STEP_MS}ms`,
    ]);
    expect(generated).toMatchObject({ code: 0, stderr: '' });
    events = jsonLines<GeneratedEvent>(await readFile(eventsFile, 'utf8'));
  });
  afterAll(async () => {
    killCliProcesses();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The printed messages carry the generated events, in order, with their original times. */
  function expectGeneratedOrder(messages: readonly PrintedMessage[], from = 0): void {
    expect(messages.map((message) => message.data)).toEqual(events.slice(from).map((event) => event.data));
    expect(messages.map((message) => message.timestamp)).toEqual(
      events.slice(from).map((event) => new Date(event.timestamp).toISOString()),
    );
  }

  it('data tail prints what data publish posts, in order', async () => {
    const device = uniqueDevice('tail');
    const baseline = server.app.services.broker.stats().subscriptions;
    const tail = startCli(['data', 'tail', '--device-id', device, '--count', String(COUNT)], env);
    // Publish only once the tail's subscription has reached the broker.
    await waitUntil(
      () => server.app.services.broker.stats().subscriptions > baseline || tail.child.exitCode !== null,
      20_000,
      'the tail to subscribe',
    );
    const published = await runCli(
      ['data', 'publish', '-d', device, '-f', eventsFile, '-i', '0s', '-b', '7'],
      env,
    );
    expect(published).toMatchObject({ code: 0, stdout: '' });
    expect(published.stderr).toBe(`published ${COUNT} events to device ${device}\n`);
    const tailed = await tail.exited;
    expect(tailed.stderr).toBe('');
    expect(tailed.code).toBe(0);
    const messages = jsonLines<PrintedMessage>(tailed.stdout);
    expect(messages.map((message) => message.seq)).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
    expect(
      messages.every((message) => message.deviceId === device && message.symbol === 'demo.Counter'),
    ).toBe(true);
    expectGeneratedOrder(messages);
  });

  it('generate → publish → record start/stop → ls/show → export → import → replay → rm', {
    timeout: 180_000,
  }, async () => {
    const device = uniqueDevice('rec');
    const started = await runCli(
      ['record', 'start', '--device-id', device, '--retention', '2h', '--note', 'e2e'],
      env,
    );
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const recordingId = started.stdout.trim();
    expect(recordingId).not.toBe('');

    // A device records once at a time: the second start is a runtime error naming the active one.
    const again = await runCli(['record', 'start', '--device-id', device], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(recordingId);
    expect(again.stderr).toContain('(BAD_USER_INPUT)');

    const published = await runCli(
      ['data', 'publish', '-d', device, '-f', eventsFile, '--interval', '10ms'],
      env,
    );
    expect(published).toMatchObject({ code: 0, stderr: `published ${COUNT} events to device ${device}\n` });

    const stopped = await runCli(['record', 'stop', recordingId], env);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(
      new RegExp(`^${recordingId} stopped: ${COUNT} messages, expires \\S+Z\\n$`),
    );

    const listed = await runCli(['record', 'ls', '--device-id', device, '--json'], env);
    expect(listed.code).toBe(0);
    expect(jsonLines(listed.stdout)).toEqual([
      expect.objectContaining({ id: recordingId, deviceId: device, status: 'STOPPED', messageCount: COUNT }),
    ]);
    const table = await runCli(['record', 'ls', '--device-id', device], env);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID +DEVICE +STATUS +MESSAGES +STARTED +STOPPED$/);
    expect(table.stdout).toMatch(new RegExp(`^${recordingId} +${device} +STOPPED +${COUNT} `, 'm'));

    const shown = await runCli(['record', 'show', recordingId, '--json'], env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id: recordingId,
      note: 'e2e',
      retention: 'PT2H',
      messageCount: COUNT,
      firstMessageAt: new Date(events[0]?.timestamp ?? '').toISOString(),
      lastMessageAt: new Date(events.at(-1)?.timestamp ?? '').toISOString(),
    });

    // Export: the metadata line, then one {"headers","data"} line per message.
    const exportFile = join(dir, `${recordingId}.jsonl`);
    const exported = await runCli(['record', 'export', recordingId, '-o', exportFile], env);
    expect(exported).toMatchObject({ code: 0, stdout: '' });
    expect(exported.stderr).toBe(`exported ${COUNT} messages of recording ${recordingId}\n`);
    const [metadataLine, ...messageLines] = jsonLines<Record<string, Record<string, unknown>>>(
      await readFile(exportFile, 'utf8'),
    );
    expect(metadataLine).toEqual({
      metadata: {
        session_id: recordingId,
        device_id: device,
        start: expect.any(String),
        end: expect.any(String),
        message_count: COUNT,
        retention: '2h',
        note: 'e2e',
      },
    });
    expect(messageLines.map((line) => line.data)).toEqual(events.map((event) => event.data));
    for (const [index, line] of messageLines.entries()) {
      expect(line.headers).toMatchObject({
        'X-Monitor-Device': device,
        'X-Monitor-Type': 'state',
        'X-Monitor-Symbol': 'demo.Counter',
        'X-Monitor-Seq': String(index + 1),
      });
      expect(new Date(String(line.headers?.['X-Monitor-Timestamp'])).toISOString()).toBe(
        new Date(events[index]?.timestamp ?? '').toISOString(),
      );
    }
    // The same export on stdout.
    const onStdout = await runCli(['record', 'export', recordingId], env);
    expect(onStdout.stdout).toBe(await readFile(exportFile, 'utf8'));

    // Import into the same server: the file's id is taken, so it is refused; --new-id works.
    const clash = await runCli(['record', 'import', exportFile], env);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toBe(`error: recording "${recordingId}" already exists (BAD_USER_INPUT)\n`);
    const imported = await runCli(['record', 'import', exportFile, '--new-id'], env);
    expect(imported.stderr).toMatch(/^imported 20 messages into recording \S+\n$/);
    expect(imported.code).toBe(0);
    const importedId = imported.stdout.trim();
    expect(importedId).not.toBe(recordingId);
    const named = await runCli(['record', 'import', exportFile, '--id', `${recordingId}-copy`], env);
    expect(named).toMatchObject({ code: 0, stdout: `${recordingId}-copy\n` });
    const importedShown = await runCli(['record', 'show', importedId, '--json'], env);
    expect(JSON.parse(importedShown.stdout)).toMatchObject({
      deviceId: device,
      status: 'STOPPED',
      messageCount: COUNT,
      note: 'e2e',
    });

    // Replay the imported copy: it completes by itself, every message in the original order.
    const replayed = await runCli(['replay', '--recording', importedId, '--speed', '10'], env);
    expect(replayed.stderr).toBe('');
    expect(replayed.code).toBe(0);
    const replayedMessages = jsonLines<PrintedMessage>(replayed.stdout);
    expect(replayedMessages.map((message) => message.seq)).toEqual(
      Array.from({ length: COUNT }, (_, i) => i + 1),
    );
    expectGeneratedOrder(replayedMessages);

    // --from skips to an instant; speed 0 is as fast as the client reads.
    const from = events[12]?.timestamp ?? '';
    const partial = await runCli(['replay', '-r', recordingId, '--speed', '0', '--from', from], env);
    expect(partial.code).toBe(0);
    expectGeneratedOrder(jsonLines<PrintedMessage>(partial.stdout), 12);

    for (const id of [recordingId, importedId, `${recordingId}-copy`]) {
      const removed = await runCli(['record', 'rm', id], env);
      expect(removed).toMatchObject({ code: 0, stdout: '', stderr: `deleted recording ${id}\n` });
    }
    const gone = await runCli(['record', 'show', recordingId], env);
    expect(gone).toMatchObject({ code: 1, stderr: `error: recording "${recordingId}" not found\n` });
    const removedTwice = await runCli(['record', 'rm', recordingId], env);
    expect(removedTwice).toMatchObject({
      code: 1,
      stderr: `error: recording "${recordingId}" not found (NOT_FOUND)\n`,
    });
    const none = await runCli(['record', 'ls', '--device-id', device], env);
    expect(none).toMatchObject({ code: 0, stdout: 'no recordings\n' });
  });

  it('exports and imports a recording larger than one page and one request', {
    timeout: 180_000,
  }, async () => {
    const total = 2_500;
    const device = uniqueDevice('big');
    const file = join(dir, 'big.jsonl');
    const generated = await runCli([
      'data',
      'generate',
      '-c',
      String(total),
      '-t',
      'examples/templates/users.json',
      '-o',
      file,
      '--seed',
      'big',
    ]);
    expect(generated.code).toBe(0);
    const recordingId = (await runCli(['record', 'start', '-d', device], env)).stdout.trim();
    const published = await runCli(
      ['data', 'publish', '-d', device, '-f', file, '-i', '0s', '-b', '500'],
      env,
    );
    expect(published.code).toBe(0);
    expect((await runCli(['record', 'stop', recordingId], env)).code).toBe(0);

    const exportFile = join(dir, 'big-export.jsonl');
    expect((await runCli(['record', 'export', recordingId, '-o', exportFile], env)).code).toBe(0);
    const exportedText = await readFile(exportFile, 'utf8');
    const [, ...lines] = jsonLines<{ data: unknown }>(exportedText);
    const sent = jsonLines<{ data: unknown }>(await readFile(file, 'utf8'));
    expect(lines).toHaveLength(total);
    expect(lines.map((line) => line.data)).toEqual(sent.map((event) => event.data));

    // 2,500 messages travel as importRecording plus appendRecordingMessages chunks.
    const imported = await runCli(['record', 'import', exportFile, '--new-id'], env);
    expect(imported.code).toBe(0);
    const importedId = imported.stdout.trim();
    const reExported = await runCli(['record', 'export', importedId], env);
    const [, ...again] = jsonLines<{ data: unknown }>(reExported.stdout);
    expect(again.map((line) => line.data)).toEqual(sent.map((event) => event.data));

    const replayed = await runCli(['replay', '-r', importedId, '--speed', '0'], env);
    expect(replayed.code).toBe(0);
    const replayedMessages = jsonLines<PrintedMessage>(replayed.stdout);
    expect(replayedMessages.map((message) => message.seq)).toEqual(
      Array.from({ length: total }, (_, i) => i + 1),
    );
    for (const id of [recordingId, importedId])
      expect((await runCli(['record', 'rm', id], env)).code).toBe(0);
  });

  it('unknown recordings are runtime errors (exit 1) naming the id', async () => {
    for (const args of [
      ['record', 'stop', 'rec_missing'],
      ['record', 'export', 'rec_missing'],
      ['replay', '--recording', 'rec_missing'],
    ]) {
      const result = await runCli(args, env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: .*rec_missing.*\n$/);
    }
  });

  it('record import refuses a bad export before creating anything, naming the line', async () => {
    const device = uniqueDevice('bad');
    const file = join(dir, 'bad-export.jsonl');
    await writeFile(
      file,
      [
        JSON.stringify({ metadata: { session_id: 'rec_bad', device_id: device, message_count: 2 } }),
        JSON.stringify({ headers: { 'X-Monitor-Timestamp': '2026-02-01T08:00:00Z' }, data: { n: 1 } }),
        '{"headers": {}, "data": ',
      ].join('\n'),
    );
    const result = await runCli(['record', 'import', file], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: ${file} line 3: not JSON \\(.+\\)\\n$`));
    const listed = await runCli(['record', 'ls', '--device-id', device, '--json'], env);
    expect(listed).toMatchObject({ code: 0, stdout: '' });

    const noMetadata = join(dir, 'no-metadata.jsonl');
    await writeFile(noMetadata, `${JSON.stringify({ headers: {}, data: 1 })}\n`);
    const missing = await runCli(['record', 'import', noMetadata], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`error: ${noMetadata} line 1: the first line must be {"metadata":{…}}\n`);

    const absent = await runCli(['record', 'import', join(dir, 'absent.jsonl')], env);
    expect(absent).toMatchObject({
      code: 1,
      stderr: `error: cannot read ${join(dir, 'absent.jsonl')}: no such file\n`,
    });
  });

  it('data publish reports what the monitor refuses (exit 1)', async () => {
    const result = await runCli(['data', 'publish', '-d', 'bad.device', '-f', eventsFile, '-i', '0s'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^error: POST \/monitor\/bad\.device failed with HTTP 400: .*device id.*\n$/,
    );
  });
});
