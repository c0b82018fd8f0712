// Renders helm/deltaserve with `helm template` over one value set (or the defaults) and
// checks what the chart promises: every server flag of server/main.cc set from values,
// gRPC probes, GPU resources, the model volume, TLS and token secrets mounted where the
// flags point, the hardened security context, Service ports, disruption budget,
// autoscaler, monitors, rules and the Grafana dashboard ConfigMap.
// Usage: node chart_renders_value_set_test.mjs HELM SOURCE_DIR (VALUES_FILE | default)
import fs from 'node:fs';
import path from 'node:path';
import { Checks, fail, loadYaml, run } from './deploy_test_support.mjs';

const [helm, sourceDir, valuesFile] = process.argv.slice(2);
if (!valuesFile) fail('usage: chart_renders_value_set_test.mjs HELM SOURCE_DIR (VALUES_FILE | default)');
const YAML = loadYaml(sourceDir);
const chartDir = path.join(sourceDir, 'helm/deltaserve');

function deepMerge(base, override) {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return override;
  if (typeof override !== 'object' || override === null || Array.isArray(override)) return override;
  const merged = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = key in base ? deepMerge(base[key], value) : value;
  return merged;
}

function serverFlags() {
  const mainCc = fs.readFileSync(path.join(sourceDir, 'server/main.cc'), 'utf8');
  return new Set([...mainCc.matchAll(/^ABSL_FLAG\([^,]+,\s*(\w+),/gm)].map((m) => m[1].replaceAll('_', '-')));
}

function parseArgs(args) {
  const flags = new Map();
  for (const arg of args) {
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!match) fail(`container argument '${arg}' is not --flag[=value]`);
    flags.set(match[1], match[2] ?? true);
  }
  return flags;
}

// JSON with sorted keys: toYaml in templates sorts keys, values files need not.
const canonical = (value) => JSON.stringify(value, (_, v) =>
  v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v);

const camel = (flag) => flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

// The value a flag must carry, found in values by the flag's camelCase name.
function expectedFlagValue(flag, values) {
  const special = {
    listen: `0.0.0.0:${values.server.grpcPort}`,
    'metrics-listen': `0.0.0.0:${values.server.metricsPort}`,
    'drain-timeout': values.server.drainTimeoutSeconds,
    model: values.model.subPath ? `${values.model.mountPath.replace(/\/$/, '')}/${values.model.subPath}` : values.model.mountPath,
    'load-format': values.model.loadFormat,
  };
  if (flag in special) return special[flag];
  for (const section of ['server', 'sampling', 'attention']) {
    if (camel(flag) in values[section]) return values[section][camel(flag)];
  }
  return undefined;
}

const values = deepMerge(YAML.parse(fs.readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')),
  valuesFile === 'default' ? {} : YAML.parse(fs.readFileSync(valuesFile, 'utf8')));
const argv = [helm, 'template', 'release', chartDir, '--namespace', 'inference'];
if (valuesFile !== 'default') argv.push('-f', valuesFile);
const rendered = run(argv);
if (rendered.code !== 0) fail(`helm template failed:\n${rendered.err}`);
const objects = YAML.parseAllDocuments(rendered.out).map((doc) => doc.toJS()).filter(Boolean);
const byKind = (kind) => objects.filter((object) => object.kind === kind);
const checks = new Checks();

// Deployment and its one server container.
const [deployment] = byKind('Deployment');
if (!deployment) fail('no Deployment rendered');
const pod = deployment.spec.template.spec;
const container = pod.containers.find((c) => c.name === 'deltaserve');
if (!container) fail('no container named deltaserve');
const flags = parseArgs(container.args);
const known = serverFlags();
const demo = values.model.source === 'demo';
// Flags the chart passes only for some values (false: never); the TLS and token ones
// are checked against their secrets below.
const conditional = {
  model: !demo,
  'load-format': !demo,
  'demo-model': demo,
  'tls-cert-file': values.tls.enabled,
  'tls-key-file': values.tls.enabled,
  'health-listen': values.tls.enabled,
  'tls-client-ca-file': values.tls.enabled && Boolean(values.tls.clientCaSecretName),
  'auth-token-file': values.auth.enabled,
  // Debugging aids, not for a deployment: traces are taken by hand on a GPU host
  // (docs/benchmarks.md, "Tracing the engine's steps").
  'torch-profile-dir': false,
  'torch-profile-first-step': false,
  'torch-profile-steps': false,
  'torch-profile-decode': false,
};
for (const flag of known) {
  const wanted = flag in conditional ? conditional[flag] : true;
  checks.expect(flags.has(flag) === wanted, `--${flag} ${wanted ? 'missing from' : 'unexpected in'} the container args`);
  const expected = expectedFlagValue(flag, values);
  if (flags.has(flag) && expected !== undefined) {
    checks.expect(String(flags.get(flag)) === String(expected), `--${flag}=${flags.get(flag)}, values say ${expected}`);
  }
}
for (const flag of flags.keys()) checks.expect(known.has(flag), `--${flag} is not a flag of server/main.cc`);

const probePort = values.tls.enabled ? values.tls.healthPort : values.server.grpcPort;
for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
  checks.expect(container[probe]?.grpc?.port === probePort, `${probe} is not a gRPC probe on port ${probePort}`);
}
const startupSeconds = container.startupProbe.periodSeconds * container.startupProbe.failureThreshold;
checks.expect(startupSeconds >= 300, `startup probe allows ${startupSeconds} s, less than 5 minutes of model load`);
checks.expect(pod.terminationGracePeriodSeconds > values.server.drainTimeoutSeconds,
  `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} does not cover the ${values.server.drainTimeoutSeconds} s drain`);
const ports = Object.fromEntries(container.ports.map((p) => [p.name, p.containerPort]));
checks.expect(ports.grpc === values.server.grpcPort && ports.metrics === values.server.metricsPort, `container ports ${JSON.stringify(ports)}`);

const security = container.securityContext;
checks.expect(security.runAsNonRoot === true && pod.securityContext.runAsNonRoot === true, 'not runAsNonRoot');
checks.expect(security.readOnlyRootFilesystem === true, 'root filesystem is writable');
checks.expect(security.allowPrivilegeEscalation === false, 'privilege escalation allowed');
checks.expect(security.capabilities?.drop?.includes('ALL'), 'capabilities are not dropped');

const mounts = Object.fromEntries(container.volumeMounts.map((m) => [m.name, m]));
const volumes = Object.fromEntries(pod.volumes.map((v) => [v.name, v]));
checks.expect(mounts.tmp?.mountPath === '/tmp' && volumes.tmp?.emptyDir, '/tmp is not a writable emptyDir');

const gpus = values.gpu.count;
for (const side of ['requests', 'limits']) {
  const got = container.resources?.[side]?.['nvidia.com/gpu'];
  checks.expect(gpus > 0 ? got === gpus : got === undefined, `resources.${side}["nvidia.com/gpu"] is ${got}, gpu.count ${gpus}`);
}
checks.expect(canonical(pod.nodeSelector ?? {}) === canonical(values.nodeSelector), 'nodeSelector differs from values');
checks.expect(canonical(pod.tolerations ?? []) === canonical(values.tolerations), 'tolerations differ from values');

const modelVolume = volumes.model;
switch (values.model.source) {
  case 'pvc':
    checks.expect(modelVolume?.persistentVolumeClaim?.claimName === values.model.pvc.claimName, 'model volume is not the PVC');
    break;
  case 'hostPath':
    checks.expect(modelVolume?.hostPath?.path === values.model.hostPath.path, 'model volume is not the hostPath');
    break;
  case 'initContainer': {
    const fetcher = pod.initContainers?.[0];
    checks.expect(modelVolume?.emptyDir && fetcher?.volumeMounts.some((m) => m.name === 'model' && !m.readOnly),
      'init container does not fill the model emptyDir');
    checks.expect(fetcher?.securityContext?.readOnlyRootFilesystem === true, 'init container is not hardened');
    break;
  }
  case 'demo':
    checks.expect(!modelVolume && !mounts.model, 'demo model has a model volume');
    break;
}
if (!demo) {
  checks.expect(mounts.model?.readOnly === true && String(flags.get('model')).startsWith(mounts.model.mountPath),
    '--model is not inside the read-only model mount');
}

// A file flag must point into a mount of the named secret.
function expectSecretFile(flag, secretName) {
  const file = String(flags.get(flag));
  const mount = container.volumeMounts.find((m) => file.startsWith(`${m.mountPath}/`));
  checks.expect(mount && volumes[mount.name]?.secret?.secretName === secretName, `--${flag}=${file} is not in secret ${secretName}`);
}
if (values.tls.enabled) {
  expectSecretFile('tls-cert-file', values.tls.secretName);
  expectSecretFile('tls-key-file', values.tls.secretName);
  if (values.tls.clientCaSecretName) expectSecretFile('tls-client-ca-file', values.tls.clientCaSecretName);
  checks.expect(flags.get('health-listen') === `0.0.0.0:${values.tls.healthPort}`, 'TLS on without a plaintext health port for the probes');
} else {
  checks.expect(![...flags.keys()].some((f) => f.startsWith('tls-') || f === 'health-listen'), 'TLS flags without tls.enabled');
}
if (values.auth.enabled) expectSecretFile('auth-token-file', values.auth.secretName);
else checks.expect(!flags.has('auth-token-file'), '--auth-token-file without auth.enabled');

// Service.
const [service] = byKind('Service');
const servicePorts = Object.fromEntries((service?.spec.ports ?? []).map((p) => [p.name, p]));
checks.expect(servicePorts.grpc?.port === values.server.grpcPort && servicePorts.grpc?.appProtocol === 'grpc', 'Service grpc port or appProtocol');
checks.expect(servicePorts.metrics?.port === values.server.metricsPort, 'Service metrics port');
const podLabels = deployment.spec.template.metadata.labels;
const selects = (selector) => Object.entries(selector ?? {}).every(([k, v]) => podLabels[k] === v);
checks.expect(selects(service?.spec.selector), 'Service selector does not match the pods');

// Disruption budget, autoscaling, monitors.
const [budget] = byKind('PodDisruptionBudget');
checks.expect(Boolean(budget) === values.podDisruptionBudget.enabled, 'PodDisruptionBudget presence differs from values');
if (budget) checks.expect(selects(budget.spec.selector.matchLabels), 'PodDisruptionBudget selector does not match the pods');

const scaling = values.autoscaling;
const [hpa] = byKind('HorizontalPodAutoscaler');
const [scaledObject] = byKind('ScaledObject');
checks.expect(Boolean(hpa) === (scaling.enabled && scaling.kind === 'hpa'), 'HorizontalPodAutoscaler presence');
checks.expect(Boolean(scaledObject) === (scaling.enabled && scaling.kind === 'keda'), 'ScaledObject presence');
checks.expect((deployment.spec.replicas === undefined) === scaling.enabled, 'Deployment replicas must be unset exactly when autoscaled');
if (hpa) {
  checks.expect(hpa.spec.metrics[0].pods.metric.name === 'deltaserve_requests_waiting', 'HPA does not scale on deltaserve_requests_waiting');
  checks.expect(hpa.spec.scaleTargetRef.name === deployment.metadata.name, 'HPA targets another Deployment');
}
if (scaledObject) {
  const trigger = scaledObject.spec.triggers[0];
  checks.expect(trigger.type === 'prometheus' && trigger.metadata.query.includes('deltaserve_requests_waiting'), 'KEDA trigger query');
  checks.expect(Number(trigger.metadata.threshold) === scaling.targetRequestsWaiting, 'KEDA threshold');
  checks.expect(scaledObject.spec.scaleTargetRef.name === deployment.metadata.name, 'ScaledObject targets another Deployment');
}
for (const [kind, key, endpoints] of [['ServiceMonitor', 'serviceMonitor', 'endpoints'], ['PodMonitor', 'podMonitor', 'podMetricsEndpoints']]) {
  const [monitor] = byKind(kind);
  checks.expect(Boolean(monitor) === values.metrics[key].enabled, `${kind} presence`);
  if (monitor) checks.expect(monitor.spec[endpoints][0].port === 'metrics', `${kind} does not scrape the metrics port`);
}

// Rules and dashboard: the files of deploy/, unchanged.
const [rule] = byKind('PrometheusRule');
checks.expect(Boolean(rule) === values.prometheusRule.enabled, 'PrometheusRule presence');
if (rule) {
  const rulesFile = YAML.parse(fs.readFileSync(path.join(sourceDir, 'deploy/prometheus/deltaserve-rules.yml'), 'utf8'));
  checks.expect(JSON.stringify(rule.spec.groups) === JSON.stringify(rulesFile.groups), 'PrometheusRule groups differ from deploy/prometheus/deltaserve-rules.yml');
}
const dashboardMap = byKind('ConfigMap').find((map) => map.data?.['deltaserve.json']);
checks.expect(Boolean(dashboardMap) === values.grafanaDashboard.enabled, 'dashboard ConfigMap presence');
if (dashboardMap) {
  const dashboardFile = JSON.parse(fs.readFileSync(path.join(sourceDir, 'deploy/grafana/deltaserve.json'), 'utf8'));
  checks.expect(JSON.stringify(JSON.parse(dashboardMap.data['deltaserve.json'])) === JSON.stringify(dashboardFile),
    'dashboard ConfigMap differs from deploy/grafana/deltaserve.json');
  for (const [label, value] of Object.entries(values.grafanaDashboard.labels)) {
    checks.expect(dashboardMap.metadata.labels[label] === value, `dashboard ConfigMap lacks the sidecar label ${label}=${value}`);
  }
}

checks.finish(`chart renders ${objects.length} objects for ${valuesFile === 'default' ? 'the default values' : path.basename(valuesFile)}`);
