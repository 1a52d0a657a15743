/**
 * Marks an operation whose transport attaches the cross-cutting concerns to the subscription's
 * start and end itself (DESIGN.md decision 4): shutdown, token expiry and metrics then add no
 * async-iterator layer that every event would pass through. graphql-ws and the subscription
 * groups do; the plugins still wrap the streams of transports that do not (GraphQL over SSE).
 */
export const MANAGED_LIFECYCLE = { managedLifecycle: true } as const;

/** True when the operation's context comes from a transport that manages its lifecycle. */
export function hasManagedLifecycle(context: unknown): boolean {
  return (context as { managedLifecycle?: unknown } | null)?.managedLifecycle === true;
}
