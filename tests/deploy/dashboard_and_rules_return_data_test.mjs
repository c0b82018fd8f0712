// The observability stack end to end on loopback: deltaserve on stories260K, a real
// Prometheus scraping it every second with deploy/prometheus/deltaserve-rules.yml
// loaded, load from deltaserve-bench in every attention mode. Then every query of
// deploy/grafana/deltaserve.json and every rule's expression goes through Prometheus's
// HTTP API and must return data; rules must evaluate without error.
// Usage: node dashboard_and_rules_return_data_test.mjs SOURCE_DIR MODELS_DIR DELTASERVE DELTASERVE_BENCH
//        DELTASERVE_CLI PROMETHEUS
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Checks, fail, run } from './deploy_test_support.mjs';

const [sourceDir, modelsDir, deltaserve, bench, cli, prometheus] = process.argv.slice(2);
if (!prometheus) fail('usage: dashboard_and_rules_return_data_test.mjs SOURCE_DIR MODELS_DIR DELTASERVE BENCH CLI PROMETHEUS');
const MODES = ['dense', 'sparse', 'recompute', 'delta'];
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaserve-observe-'));
const children = [];
let stopping = false;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// On a failure: kill at once, so that nothing writes into the scratch folder after it goes.
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  fs.rmSync(scratch, { recursive: true, force: true });
});

// At the end: SIGTERM, as Kubernetes stops them, and wait for both to exit.
async function stopAll() {
  stopping = true;
  await Promise.all(children.filter((child) => child.exitCode === null).map((child) => new Promise((resolve) => {
    child.on('exit', resolve);
    child.kill('SIGTERM');
  })));
}

// Starts a process whose stderr is kept; resolves once stderr matches `ready`.
function start(argv, ready, timeoutMs) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  return new Promise((resolve) => {
    const timer = setTimeout(() => fail(`${path.basename(argv[0])} not ready after ${timeoutMs} ms:\n${stderr}`), timeoutMs);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = ready.exec(stderr);
      if (match) { clearTimeout(timer); resolve({ child, match, stderr: () => stderr }); }
    });
    child.on('exit', (code) => stopping || fail(`${path.basename(argv[0])} exited with ${code} early:\n${stderr}`));
  });
}

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function api(base, endpoint, params = {}) {
  const response = await fetch(`${base}${endpoint}?${new URLSearchParams(params)}`);
  const body = await response.json();
  if (body.status !== 'success') throw new Error(`${endpoint} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
  return body.data;
}

const query = (base, expr) => api(base, '/api/v1/query', { query: expr });

// Grafana variables as an "All" selection: the dashboard's own allValue, and a rate
// window that covers this test's one-second scrapes.
function grafanaToPromQL(expr, dashboard) {
  let promql = expr.replaceAll('$__rate_interval', '1m');
  for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
    promql = promql.replaceAll(`$${variable.name}`, variable.allValue);
  }
  if (promql.includes('$')) fail(`unresolved Grafana variable in: ${expr}`);
  return promql;
}

// The raw histograms a query reads, directly or through a series recorded from one.
function histogramsOf(expr) {
  const names = new Set();
  for (const [, name] of expr.matchAll(/deltaserve:(\w+?)(?:_bucket)?:\w+/g)) names.add(`deltaserve_${name}`);
  for (const [, name] of expr.matchAll(/(deltaserve_\w+)_(?:bucket|sum|count)\b/g)) names.add(name);
  return [...names];
}

// A query "returns data" when it has a series with a finite value. NaN alone is
// accepted only where every histogram it reads has no observation at all yet (the
// server registers attention histograms before the engine reports into them); that is
// printed, so the gap stays visible.
async function expectData(checks, base, what, expr) {
  let data;
  try {
    data = await query(base, expr);
  } catch (error) {
    checks.expect(false, `${what}: ${error.message}`);
    return [];
  }
  checks.expect(data.result.length > 0, `${what}: no series for ${expr}`);
  if (data.result.length === 0 || data.result.some((series) => Number.isFinite(Number(series.value[1])))) return data.result;
  const histograms = histogramsOf(expr);
  const counts = await Promise.all(histograms.map(async (h) => (await query(base, `sum(${h}_count)`)).result[0]?.value[1]));
  const unobserved = histograms.length > 0 && counts.every((count) => Number(count) === 0);
  checks.expect(unobserved, `${what}: only NaN values for ${expr}`);
  if (unobserved) console.log(`NOTE: ${what}: NaN, no observations yet in ${histograms.join(', ')}`);
  return data.result;
}

const dashboard = JSON.parse(fs.readFileSync(path.join(sourceDir, 'deploy/grafana/deltaserve.json'), 'utf8'));
const rulesFile = path.join(sourceDir, 'deploy/prometheus/deltaserve-rules.yml');

const server = await start([deltaserve, '--model', path.join(modelsDir, 'stories260K'), '--listen', '127.0.0.1:0',
  '--metrics-listen', '127.0.0.1:0', '--kv-cache-bytes', '2097152', '--window', '32', '--sink', '4', '--lambda', '16',
  '--probe-fraction', '0.5', '--max-num-seqs', '8'],
/gRPC on 127\.0\.0\.1:(\d+), metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics[\s\S]*serving /, 60000);
const [, grpcPort, metricsPort] = server.match;
const target = `127.0.0.1:${grpcPort}`;

const promPort = await freePort();
const promConfig = path.join(scratch, 'prometheus.yml');
fs.writeFileSync(promConfig, [
  'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
  'rule_files:', `  - ${JSON.stringify(rulesFile)}`,
  'scrape_configs:', '  - job_name: deltaserve', '    static_configs:', `      - targets: ["127.0.0.1:${metricsPort}"]`, ''].join('\n'));
await start([prometheus, `--config.file=${promConfig}`, `--storage.tsdb.path=${path.join(scratch, 'data')}`,
  `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=info'], /Server is ready to receive web requests/, 60000);
const base = `http://127.0.0.1:${promPort}`;

// rate() sees only increases between two scrapes: the load starts after the first
// scrape and, as Poisson arrivals, spans many scrapes.
for (let attempt = 0; (await query(base, 'up{job="deltaserve"} == 1')).result.length === 0; ++attempt) {
  if (attempt === 60) fail('Prometheus did not scrape deltaserve within 30 s');
  await sleep(500);
}

// Load: every attention mode, then one request the server refuses (a status that is not ok).
for (const mode of MODES) {
  const result = run([bench, '--target', target, '--num-requests', '12', '--request-rate', '4', '--prompt-len', '40',
    '--prompt-len-max', '200', '--output-len', '8', '--output-len-max', '24', '--attention-mode', mode, '--seed', '7']);
  if (result.code !== 0) fail(`deltaserve-bench --attention-mode ${mode} failed:\n${result.out}${result.err}`);
}
const refused = run([cli, '--target', target, 'generate', '--prompt-ids', '5', '--max-tokens', '0']);
if (refused.code === 0) fail('deltaserve-cli generate --max-tokens 0 was not refused');

// Wait until Prometheus has the final counters and the rules have run over them.
const totalRequests = MODES.length * 12 + 1;
for (let attempt = 0; ; ++attempt) {
  const seen = (await query(base, 'sum(deltaserve_requests_total)')).result[0]?.value[1];
  const recorded = (await query(base, 'count(deltaserve:time_to_first_token_seconds_bucket:rate1m)')).result.length;
  if (Number(seen) === totalRequests && recorded > 0) break;
  if (attempt === 60) fail(`Prometheus saw ${seen} of ${totalRequests} requests after 30 s`);
  await sleep(500);
}
await sleep(2500);

const checks = new Checks();
const jobs = await api(base, '/api/v1/label/job/values', { 'match[]': 'deltaserve_build_info' });
checks.expect(jobs.includes('deltaserve'), `dashboard variable job finds ${JSON.stringify(jobs)}`);

let panelQueries = 0;
for (const panel of dashboard.panels.filter((p) => p.targets)) {
  for (const targetQuery of panel.targets) {
    const result = await expectData(checks, base, `panel "${panel.title}" ${targetQuery.refId}`, grafanaToPromQL(targetQuery.expr, dashboard));
    ++panelQueries;
    if (panel.title === 'Request rate by status') {
      const statuses = new Set(result.map((series) => series.metric.status));
      checks.expect(statuses.has('ok') && statuses.has('invalid_argument'), `request rate by status shows ${[...statuses]}`);
    }
  }
}

const groups = (await api(base, '/api/v1/rules')).groups;
const rules = groups.flatMap((group) => group.rules);
const expectedRules = (fs.readFileSync(rulesFile, 'utf8').match(/^\s+- (record|alert):/gm) ?? []).length;
checks.expect(rules.length === expectedRules, `Prometheus loaded ${rules.length} rules, the file has ${expectedRules}`);
for (const rule of rules) {
  const name = rule.name;
  checks.expect(rule.health === 'ok', `rule ${name}: health ${rule.health} ${rule.lastError ?? ''}`);
  if (rule.type === 'recording') {
    const result = await expectData(checks, base, `recording rule ${name}`, rule.query);
    checks.expect(result.every((series) => series.metric.job === 'deltaserve'), `recording rule ${name} lost the job label`);
    const stored = (await query(base, name)).result.length;
    checks.expect(stored > 0, `recording rule ${name}: no recorded series`);
  } else {
    // An alert's expression is empty while healthy: its input (the side before the
    // threshold) must have live data, and the full expression must evaluate.
    const input = /^([\s\S]+?)\s*[<>]=?\s*[0-9.]+\s*$/.exec(rule.query)?.[1];
    checks.expect(Boolean(input), `alert ${name}: no "expr > threshold" form in ${rule.query}`);
    if (input) await expectData(checks, base, `alert ${name} input`, input);
    try {
      await query(base, rule.query);
    } catch (error) {
      checks.expect(false, `alert ${name}: ${error.message}`);
    }
  }
}

await stopAll();
checks.finish(`${panelQueries} panel queries and ${rules.length} rules return data after load in modes ${MODES.join(', ')}`);
process.exit(0);
