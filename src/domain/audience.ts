/**
 * How many clients one running subscription serves: a subscription group shares one execution
 * among its members (DESIGN.md decision 4), so counts of "active subscriptions" add these sizes
 * rather than counting streams. A stream that serves one client has size 1.
 */
export interface Audience {
  readonly size: number;
}
