/**
 * POST /topics/{topic}/messages: the batch form of `publish` over HTTP, for producers that send
 * many messages. The body is a JSON array of messages (each the `data` of one publish) or NDJSON
 * (`application/x-ndjson`, one message per line), as for the HTTP monitor. A translator onto the
 * `publishMessages` mutation (DESIGN.md decision 1): auth, roles, limits and masking are those of
 * /graphql. `?key=` sets the message key. Answers 200 {"accepted":N,"position":…}, or the error
 * code with the status the monitor uses (400, 401, 403, 404, 413, 429, 503).
 */
import { parse } from 'graphql';
import { isAppError } from '../errors.ts';
import { errorCodeOf, executeOperation } from './execute-operation.ts';
import { jsonResponse } from './http-response.ts';
import type { HttpRoute } from './http-routes.ts';
import { parseMonitorBody, readBodyText } from './legacy-apigear/monitor-body.ts';
import { countRefusal, jsonError, STATUS_OF_CODE } from './legacy-apigear/monitor-route.ts';
import type { OperationRunner } from './operation-runner.ts';

const PUBLISH_MESSAGES = parse(`
  mutation PublishMessages($topic: String!, $messages: [JSON!]!, $key: String) {
    publishMessages(topic: $topic, messages: $messages, key: $key) { accepted position }
  }
`);

export function topicPublishRoute(options: {
  runner: OperationRunner;
  maxBodyBytes: number;
  /** Counts a refusal by the limit's name (limit_refusals_total). */
  onRefused: (limit: string) => void;
}): HttpRoute {
  return {
    methods: ['POST'],
    path: '/topics/:topic/messages',
    async handle(request, params, _serverContext, url) {
      let messages: unknown[];
      try {
        messages = parseMonitorBody(
          await readBodyText(request, options.maxBodyBytes, 'MAX_PAYLOAD_BYTES'),
          request.headers.get('content-type'),
          'messages',
        );
      } catch (error) {
        if (!isAppError(error)) throw error;
        countRefusal(error, options.onRefused);
        return jsonError(STATUS_OF_CODE[error.code] ?? 500, error.code, error.message, { ...error.details });
      }
      const key = url.searchParams.get('key');
      const result = await executeOperation(options.runner, { request }, PUBLISH_MESSAGES, {
        topic: params.topic ?? '',
        messages,
        key,
      });
      const [first] = result.errors ?? [];
      if (first) {
        const code = errorCodeOf(first);
        const { code: _code, http: _http, ...details } = first.extensions ?? {};
        return jsonError(STATUS_OF_CODE[code] ?? 500, code, first.message, details);
      }
      const data = result.data as { publishMessages: { accepted: number; position: string | null } };
      return jsonResponse(data.publishMessages);
    },
  };
}
