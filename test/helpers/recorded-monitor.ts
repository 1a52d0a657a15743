/**
 * What the recording crash suites share: a device producer posting numbered events to
 * `POST /monitor/{device}` and remembering what was acknowledged, and the check that a recording
 * holds every acknowledged event once, in order.
 */
import { expect } from 'vitest';
import { type AcknowledgedProducer, startAcknowledgedProducer } from './acknowledged-producer.ts';
import { monitorEvents } from './devices.ts';

/** Posts numbered batches of 10 until stopped; remembers which numbers were acknowledged (200). */
export function startMonitorProducer(url: () => string, device: string): AcknowledgedProducer {
  return startAcknowledgedProducer(async (n) => {
    const batch = monitorEvents(10, { from: n * 10 });
    const response = await fetch(`${url()}/monitor/${device}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    if (response.status !== 200) throw new Error(`refused with ${response.status}`);
    return batch.map((event) => (event.data as { n: number }).n);
  }, 50);
}

const MESSAGES = `query($id: ID!, $after: String) {
  recording(id: $id) { status messages(first: 1000, after: $after) { edges { node { seq data } } pageInfo { hasNextPage endCursor } } }
}`;

interface MessagesPage {
  recording: {
    status: string;
    messages: {
      edges: Array<{ node: { seq: number; data: { n: number } } }>;
      pageInfo: { hasNextPage: boolean; endCursor: string };
    };
  };
}

/** The producer's numbers and the sequences of a recording, in recorded order, over HTTP. */
export async function recordedNumbers(url: string, id: string): Promise<{ ns: number[]; seqs: number[] }> {
  const ns: number[] = [];
  const seqs: number[] = [];
  let after: string | undefined;
  for (;;) {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: MESSAGES, variables: { id, after } }),
    });
    const body = (await response.json()) as { data?: MessagesPage; errors?: unknown };
    if (body.errors || !body.data) throw new Error(JSON.stringify(body.errors));
    const page = body.data;
    for (const edge of page.recording.messages.edges) {
      ns.push(edge.node.data.n);
      seqs.push(edge.node.seq);
    }
    if (!page.recording.messages.pageInfo.hasNextPage) return { ns, seqs };
    after = page.recording.messages.pageInfo.endCursor;
  }
}

/** Every acknowledged number recorded, none twice, in the producer's order and by sequence. */
export function expectComplete(recorded: { ns: number[]; seqs: number[] }, acknowledged: readonly number[]) {
  const recordedSet = new Set(recorded.ns);
  const missing = acknowledged.filter((n) => !recordedSet.has(n));
  expect(missing, 'acknowledged messages missing from the recording').toEqual([]);
  expect(recordedSet.size, 'a message recorded twice').toBe(recorded.ns.length);
  // In recorded order, the producer's numbers only go up (a refused batch leaves a hole).
  expect(recorded.ns.every((n, index) => index === 0 || n > (recorded.ns[index - 1] as number))).toBe(true);
  expect(recorded.seqs.every((seq, index) => index === 0 || seq > (recorded.seqs[index - 1] as number))).toBe(
    true,
  );
}
