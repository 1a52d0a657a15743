import { AsyncQueue } from './async-queue.ts';

export interface SseEvent {
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

/**
 * Reads a text/event-stream response as EventSource would: events with their type, data and
 * id; comment lines (heartbeats) are counted in `comments`.
 */
export function readSse(response: Response): {
  events: AsyncQueue<SseEvent>;
  comments: AsyncQueue<string>;
  closed: Promise<void>;
} {
  const events = new AsyncQueue<SseEvent>();
  const comments = new AsyncQueue<string>();
  const body = response.body;
  if (!body) throw new Error('the response has no body');
  const closed = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let boundary = buffer.indexOf('\n\n');
      while (boundary >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        boundary = buffer.indexOf('\n\n');
        let event = 'message';
        let id: string | undefined;
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments.push(line.slice(1).trim());
          else if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          else if (line.startsWith('id:')) id = line.slice(3).trim();
        }
        if (data.length > 0) events.push({ event, data: data.join('\n'), id });
      }
    }
  })();
  closed.catch((error: Error) => events.fail(error));
  return { events, comments, closed };
}
