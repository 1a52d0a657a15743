/**
 * A nats-server configuration for tests of publish permissions (startService('nats', {config})):
 * the default user (`no_auth_user`, so clients connect without credentials, as streamgate does)
 * may subscribe anywhere and publish anywhere but on the subjects in DENIED_PUBLISH.
 */

/** Subjects the default user may not publish on (NATS wildcards: `*` one token, `>` the rest). */
export const DENIED_PUBLISH = ['denied.>', 'mix.*.denied', 'monitor.denied-*'] as const;

export const DENYING_NATS_CONFIG = `
authorization {
  users = [
    {
      user: streamgate
      password: streamgate
      permissions: {
        publish: { allow: [">"], deny: [${DENIED_PUBLISH.map((subject) => JSON.stringify(subject)).join(', ')}] }
        subscribe: { allow: [">"] }
      }
    }
  ]
}
no_auth_user: streamgate
`;
