// Helpers of the deploy tests: running the real tools and reading YAML with the parser
// that scripts/install-deploy-tools.sh installs in deploy/tools.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

export function loadYaml(sourceDir) {
  const require = createRequire(path.join(sourceDir, 'deploy/tools/package.json'));
  try {
    return require('yaml');
  } catch (error) {
    fail(`the yaml package is missing in deploy/tools: run scripts/install-deploy-tools.sh (${error.message})`);
  }
}

// Runs argv without a shell; the exit code and both outputs.
export function run(argv) {
  const result = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error) fail(`cannot run ${argv[0]}: ${result.error.message}`);
  return { code: result.status, out: result.stdout, err: result.stderr };
}

export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

// Collects failed expectations so that one run reports all of them.
export class Checks {
  constructor() { this.failures = []; }
  expect(condition, message) {
    if (!condition) this.failures.push(message);
  }
  finish(what) {
    if (this.failures.length) {
      for (const failure of this.failures) console.error(`FAIL: ${failure}`);
      process.exit(1);
    }
    console.log(`ok: ${what}`);
  }
}
