import type { EnvReader } from './env-reader.ts';

/** Bounded resources (DESIGN.md decision 5); docs/limits.md says what each refusal looks like. */
export interface LimitsConfig {
  /** Open WebSocket connections (graphql-ws and legacy) on this instance. @default 1000 (MAX_WS_CONNECTIONS) */
  readonly maxWsConnections: number;
  /** Open SSE streams (GraphQL over SSE and legacy) on this instance. @default 500 (MAX_SSE_CONNECTIONS) */
  readonly maxSseConnections: number;
  /** Open connections of one user, all transports together. @default 10 (MAX_CONNECTIONS_PER_USER) */
  readonly maxConnectionsPerUser: number;
  /** Open connections of one tenant, all transports together. @default 100 (MAX_CONNECTIONS_PER_TENANT) */
  readonly maxConnectionsPerTenant: number;
  /** Operations running at once on one graphql-ws connection. @default 100 (MAX_SUBSCRIPTIONS_PER_CONNECTION) */
  readonly maxSubscriptionsPerConnection: number;
  /** Sustained incoming messages per connection per second (token bucket). @default 50 (MESSAGE_RATE) */
  readonly messageRate: number;
  /** Burst of incoming messages per connection. @default 100 (MESSAGE_BURST) */
  readonly messageBurst: number;
  /** Sustained mutations per user per second (token bucket). @default 50 (MUTATION_RATE) */
  readonly mutationRate: number;
  /** Burst of mutations per user. @default 100 (MUTATION_BURST) */
  readonly mutationBurst: number;
  /** Longest GraphQL document. @default 64 KiB (MAX_DOCUMENT_BYTES) */
  readonly maxDocumentBytes: number;
  /**
   * Most lexical tokens in one document, handed to graphql-js's parser (`maxTokens`); it bounds
   * how deep a document can nest, so no document can overflow the parser's stack.
   * @default 2000 (MAX_DOCUMENT_TOKENS)
   */
  readonly maxDocumentTokens: number;
  /**
   * Deepest nesting of arrays and objects in a JSON input: GraphQL variables and literal
   * arguments, monitor bodies, broker messages the server reads. @default 64 (MAX_JSON_DEPTH)
   */
  readonly maxJsonDepth: number;
  /**
   * Deepest field nesting of an operation, introspection included. graphql-js's full introspection
   * query (GraphiQL, codegen) is 15 deep; the deepest document without introspection of this
   * schema is 10. @default 16 (MAX_QUERY_DEPTH)
   */
  readonly maxDepth: number;
  /** Most aliases in one document. @default 30 (MAX_ALIASES) */
  readonly maxAliases: number;
  /** Highest estimated cost of an operation (docs/limits.md). @default 20000 (MAX_QUERY_COST) */
  readonly maxCost: number;
  /** Schema introspection (`__schema`, `__type`); turn off in production if the schema is private. @default true (INTROSPECTION) */
  readonly introspection: boolean;
  /** Bytes that may wait unsent toward one client before it is closed as a slow consumer. @default 1 MiB (MAX_CLIENT_BUFFER) */
  readonly maxClientBufferBytes: number;
}

export function readLimitsConfig(read: EnvReader): LimitsConfig {
  const positive = { min: 1 };
  return {
    maxWsConnections: read.int('MAX_WS_CONNECTIONS', 1000, positive),
    maxSseConnections: read.int('MAX_SSE_CONNECTIONS', 500, positive),
    maxConnectionsPerUser: read.int('MAX_CONNECTIONS_PER_USER', 10, positive),
    maxConnectionsPerTenant: read.int('MAX_CONNECTIONS_PER_TENANT', 100, positive),
    maxSubscriptionsPerConnection: read.int('MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, positive),
    messageRate: read.number('MESSAGE_RATE', 50, { min: 0.001 }),
    messageBurst: read.int('MESSAGE_BURST', 100, positive),
    mutationRate: read.number('MUTATION_RATE', 50, { min: 0.001 }),
    mutationBurst: read.int('MUTATION_BURST', 100, positive),
    maxDocumentBytes: read.bytes('MAX_DOCUMENT_BYTES', 64 * 1024),
    maxDocumentTokens: read.int('MAX_DOCUMENT_TOKENS', 2000, { min: 100 }),
    maxJsonDepth: read.int('MAX_JSON_DEPTH', 64, { min: 1, max: 1000 }),
    maxDepth: read.int('MAX_QUERY_DEPTH', 16, positive),
    maxAliases: read.int('MAX_ALIASES', 30, { min: 0 }),
    maxCost: read.int('MAX_QUERY_COST', 20_000, positive),
    introspection: read.boolean('INTROSPECTION', true),
    maxClientBufferBytes: read.bytes('MAX_CLIENT_BUFFER', 1024 * 1024),
  };
}
