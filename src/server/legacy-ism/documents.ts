import { type DocumentNode, parse } from 'graphql';
import { STATE_STREAM_DOCUMENT } from './stream-protocol.ts';

/** The operation a /ws/stream/{state} socket runs. */
export const LegacyStateStreamDocument: DocumentNode = parse(STATE_STREAM_DOCUMENT);
