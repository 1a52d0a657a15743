import { execFile, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/config.ts';
import { createProcessRunner, freePort, waitForListening } from '../helpers/streamgate-process.ts';
import { createTestDatabase, serviceUrl } from '../setup/services.ts';

const run = promisify(execFile);
const chart = new URL('../../deploy/helm/streamgate', import.meta.url).pathname;
const installScript = new URL('../../scripts/services/helm.sh', import.meta.url).pathname;
const processes = createProcessRunner();
afterAll(() => processes.cleanup());

// What every install must set (the chart refuses to render without a database and auth).
const REQUIRED = {
  'database.url': 'postgres://streamgate:pw@db:5432/streamgate',
  'auth.jwtSecret': 'a-secret-of-at-least-thirty-two-bytes!!',
};

interface Manifest {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects, read field by field
  spec?: any;
  stringData?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
}

let helm = '';
beforeAll(async () => {
  // Built once with `go install` (scripts/services/helm.sh), like the real servers are installed;
  // the first build on a small machine takes many minutes, later runs reuse ~/.cache/streamgate.
  const dir = await mkdtemp(join(tmpdir(), 'streamgate-helm-'));
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [installScript, 'install', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`helm.sh install exited ${code}`)),
    );
  });
  helm = /^PATH=(.+)$/m.exec(stdout)?.[1] ?? '';
  expect(helm).not.toBe('');
}, 2_400_000);

function setArgs(values: Record<string, string>): string[] {
  // --set splits values on commas unless escaped.
  return Object.entries(values).flatMap(([key, value]) => [
    '--set-string',
    `${key}=${value.replaceAll(',', '\\,')}`,
  ]);
}

async function render(values: Record<string, string> = {}): Promise<Manifest[]> {
  const { stdout } = await run(helm, ['template', 'sg', chart, ...setArgs({ ...REQUIRED, ...values })]);
  return parseAllDocuments(stdout)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

/** helm's refusal to render, as the user sees it. */
async function refusal(values: Record<string, string | undefined>): Promise<string> {
  const args = Object.entries(values).flatMap(([key, value]) =>
    value === undefined ? [] : ['--set-string', `${key}=${value}`],
  );
  const error = await run(helm, ['template', 'sg', chart, ...args]).then(
    () => undefined,
    (failure: { stderr: string }) => failure.stderr,
  );
  expect(error, 'helm template should have refused').toBeDefined();
  return error ?? '';
}

function find(manifests: Manifest[], kind: string): Manifest {
  const found = manifests.find((manifest) => manifest.kind === kind);
  if (!found) throw new Error(`no ${kind} rendered (got ${manifests.map((m) => m.kind).join(', ')})`);
  return found;
}

function container(manifests: Manifest[]) {
  return find(manifests, 'Deployment').spec.template.spec.containers[0];
}

function envOf(manifests: Manifest[]): Record<string, string> {
  return Object.fromEntries((container(manifests).env as EnvVar[]).map((v) => [v.name, v.value ?? '']));
}

describe('the Helm chart (deploy/helm/streamgate)', { timeout: 120_000 }, () => {
  it('passes helm lint', async () => {
    const { stdout } = await run(helm, ['lint', chart, ...setArgs(REQUIRED)]);
    expect(stdout).toContain('0 chart(s) failed');
  });

  it('renders a Deployment, Service, Secret, HPA and PodDisruptionBudget that point at each other', async () => {
    const manifests = await render();
    expect(manifests.map((m) => m.kind).sort()).toEqual([
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'Secret',
      'Service',
    ]);
    const deployment = find(manifests, 'Deployment');
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    const service = find(manifests, 'Service');
    expect(podLabels).toMatchObject(service.spec.selector);
    expect(podLabels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(podLabels).toMatchObject(find(manifests, 'PodDisruptionBudget').spec.selector.matchLabels);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    // The HPA owns the replica count.
    expect(deployment.spec.replicas).toBeUndefined();
    expect(find(manifests, 'HorizontalPodAutoscaler').spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: deployment.metadata.name },
      minReplicas: 2,
      maxReplicas: 10,
    });
    expect(find(manifests, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);

    // Secrets reach the container as environment variables of the same name.
    const secret = find(manifests, 'Secret');
    expect(secret.stringData).toEqual({
      DATABASE_URL: REQUIRED['database.url'],
      JWT_SECRET: REQUIRED['auth.jwtSecret'],
    });
    expect(container(manifests).envFrom).toEqual([{ secretRef: { name: secret.metadata.name } }]);
    expect(JSON.stringify(container(manifests).env)).not.toContain(REQUIRED['auth.jwtSecret']);
    expect(container(manifests).resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { memory: '512Mi' },
    });
  });

  it("probes the server's endpoints on its port, and gives graceful shutdown the time it takes", async () => {
    const manifests = await render({ shutdownTimeoutSeconds: '20', preStopSleepSeconds: '7' });
    const main = container(manifests);
    const env = envOf(manifests);
    expect(main.ports).toEqual([{ name: 'http', containerPort: Number(env.PORT), protocol: 'TCP' }]);
    expect(main.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(main.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'http' });
    expect(main.startupProbe.httpGet).toEqual({ path: '/livez', port: 'http' });
    expect(env.SHUTDOWN_TIMEOUT).toBe('20s');
    expect(main.lifecycle.preStop.exec.command).toEqual(['sleep', '7']);
    const pod = find(manifests, 'Deployment').spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(7 + 20 + 5);
  });

  it('adds a ServiceMonitor for /metrics when asked', async () => {
    const monitor = find(await render({ 'serviceMonitor.enabled': 'true' }), 'ServiceMonitor');
    expect(monitor.spec.endpoints).toEqual([
      { port: 'http', path: '/metrics', interval: '30s', scrapeTimeout: '10s' },
    ]);
  });

  it.each([
    ['nats', {}, { NATS_URL: 'nats://nats:4222', NATS_RETAIN_STORAGE: 'file' }, {}],
    [
      'kafka',
      {
        'broker.kafka.brokers': 'k1:9092,k2:9092',
        'broker.kafka.sasl.mechanism': 'scram-sha-512',
        'broker.kafka.sasl.username': 'sg',
        'broker.kafka.sasl.password': 'kpw',
      },
      { KAFKA_BROKERS: 'k1:9092,k2:9092', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'sg' },
      { KAFKA_SASL_PASSWORD: 'kpw' },
    ],
    [
      'redis',
      { 'broker.redis.url': 'redis://:rpw@redis:6379' },
      {},
      { REDIS_URL: 'redis://:rpw@redis:6379' },
    ],
  ])('configures BROKER=%s', async (kind, values, env, secrets) => {
    const manifests = await render({ 'broker.kind': kind, ...values });
    const rendered = envOf(manifests);
    expect(rendered).toMatchObject({ BROKER: kind, BROKER_CONNECT_TIMEOUT: '30s', ...env });
    for (const other of ['NATS_URL', 'KAFKA_BROKERS', 'REDIS_URL']) {
      if (!(other in env)) expect(rendered[other], other).toBeUndefined();
    }
    expect(find(manifests, 'Secret').stringData).toMatchObject(secrets);
  });

  it('uses an existing Secret instead of creating one', async () => {
    const { stdout } = await run(helm, ['template', 'sg', chart, '--set', 'existingSecret=streamgate-prod']);
    const manifests = parseAllDocuments(stdout).map((d) => d.toJS() as Manifest);
    expect(manifests.some((m) => m.kind === 'Secret')).toBe(false);
    expect(container(manifests).envFrom).toEqual([{ secretRef: { name: 'streamgate-prod' } }]);
  });

  it.each([
    [
      'the memory broker',
      { ...REQUIRED, 'broker.kind': 'memory' },
      'broker.kind="memory": expected nats, kafka or redis',
    ],
    [
      'no database',
      { 'auth.jwtSecret': REQUIRED['auth.jwtSecret'] },
      'database.url (DATABASE_URL) is required',
    ],
    ['no auth', { 'database.url': REQUIRED['database.url'] }, 'auth.jwtSecret or auth.jwksUrl is required'],
  ])('refuses to render with %s, saying why', async (_, values, message) => {
    expect(await refusal(values)).toContain(message);
  });

  it("the rendered environment starts the server: probes answer on the server's real endpoints, SIGTERM drains within the grace period", async () => {
    const manifests = await render();
    const port = await freePort();
    const env: Record<string, string> = {
      ...envOf(manifests),
      ...find(manifests, 'Secret').stringData,
      // The cluster's Postgres and NATS are the test servers here; PORT a free one.
      DATABASE_URL: await createTestDatabase(),
      NATS_URL: serviceUrl('nats'),
      PORT: String(port),
    };
    expect(() => loadConfig(env)).not.toThrow();
    const server = processes.start(env);
    await waitForListening(server.lines);
    const main = container(manifests);
    for (const probe of [main.readinessProbe, main.livenessProbe, main.startupProbe]) {
      const response = await fetch(`http://127.0.0.1:${port}${probe.httpGet.path}`);
      expect(response.status, probe.httpGet.path).toBe(200);
    }
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);

    const grace = find(manifests, 'Deployment').spec.template.spec.terminationGracePeriodSeconds as number;
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(grace * 1000);
  });
});
