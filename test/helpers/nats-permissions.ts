/**
 * A nats-server configuration for tests of publish permissions (startService('nats', {config})):
 * the default user (`no_auth_user`, so clients connect without credentials, as streamgate does)
 * may subscribe anywhere and publish anywhere but on `denied` — NATS subjects or patterns, whose
 * wildcards are whole tokens (`*` one, `>` the rest): `monitor.denied-*` is a literal subject.
 */
export function natsConfigDenying(denied: readonly string[]): string {
  return `
authorization {
  users = [
    {
      user: streamgate
      password: streamgate
      permissions: {
        publish: { allow: [">"], deny: [${denied.map((subject) => JSON.stringify(subject)).join(', ')}] }
        subscribe: { allow: [">"] }
      }
    }
  ]
}
no_auth_user: streamgate
`;
}
