import type { ExecutionResult } from 'graphql';

/**
 * A result that exists as its serialized payload (`{"data":…}`, what serializeResult would
 * write), made without building its objects: a rendered page's event (page-template.ts).
 * GroupEvent takes the payload as it is; anyone reading `data` gets it parsed, once.
 */
export class SerializedResult implements ExecutionResult {
  private parsed: ExecutionResult | undefined;

  constructor(readonly payload: string) {}

  get data(): ExecutionResult['data'] {
    return this.result().data;
  }

  /** Serializes as the result it stands for. */
  toJSON(): ExecutionResult {
    return this.result();
  }

  private result(): ExecutionResult {
    this.parsed ??= JSON.parse(this.payload) as ExecutionResult;
    return this.parsed;
  }
}
