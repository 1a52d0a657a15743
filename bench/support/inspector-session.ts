/**
 * A Chrome DevTools Protocol session with a benchmark's server process (started with
 * `--inspect=127.0.0.1:0`), so the benchmark can force a GC, read `process.memoryUsage()` and
 * take heap snapshots from outside, without any route or signal handler in the server itself.
 */
import { createWriteStream } from 'node:fs';
import WebSocket from 'ws';

export interface MemoryUsage {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export interface InspectorSession {
  /** `process.memoryUsage()` of the server, after a full GC when `collect` (the live heap). */
  memoryUsage(options: { collect: boolean }): Promise<MemoryUsage>;
  /** Writes a `.heapsnapshot` of the server to `file` (a GC runs first, as DevTools does). */
  heapSnapshot(file: string): Promise<void>;
  close(): void;
}

/** The inspector's WebSocket URL from the server's output ("Debugger listening on ws://…"). */
export function inspectorUrl(output: string): string {
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1];
  if (!url) throw new Error(`no "Debugger listening on" line in the output:\n${output.slice(0, 2000)}`);
  return url;
}

export async function openInspector(url: string): Promise<InspectorSession> {
  const socket = new WebSocket(url, { maxPayload: 1024 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
  const listeners = new Map<string, (params: Record<string, unknown>) => void>();
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as {
      id?: number;
      method?: string;
      params?: Record<string, unknown>;
      result?: unknown;
      error?: { message: string };
    };
    if (message.id !== undefined) {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(`inspector: ${message.error.message}`));
      else waiter?.resolve(message.result);
    } else if (message.method) listeners.get(message.method)?.(message.params ?? {});
  });
  socket.on('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('inspector session closed'));
    pending.clear();
  });
  const send = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });

  const evaluate = async (expression: string): Promise<unknown> => {
    const result = (await send('Runtime.evaluate', { expression, returnByValue: true })) as {
      result: { value?: unknown };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (result.exceptionDetails)
      throw new Error(
        `inspector evaluate: ${result.exceptionDetails.exception?.description ?? result.exceptionDetails.text}`,
      );
    return result.result.value;
  };

  return {
    async memoryUsage({ collect }) {
      // Two full collections: the first may only queue finalizers (weak refs, FinalizationRegistry).
      if (collect) await evaluate('globalThis.gc?.(), globalThis.gc?.()');
      if (collect) await send('HeapProfiler.collectGarbage');
      return JSON.parse(String(await evaluate('JSON.stringify(process.memoryUsage())'))) as MemoryUsage;
    },
    async heapSnapshot(file) {
      const out = createWriteStream(file);
      listeners.set('HeapProfiler.addHeapSnapshotChunk', (params) => out.write(String(params.chunk)));
      try {
        await send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      } finally {
        listeners.delete('HeapProfiler.addHeapSnapshotChunk');
        await new Promise<void>((resolve, reject) =>
          out.end((error?: Error | null) => (error ? reject(error) : resolve())),
        );
      }
    },
    close: () => socket.close(),
  };
}
