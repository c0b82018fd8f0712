// helm must refuse a bad value set through values.schema.json, before any template
// runs, with an error naming the offending value. The value file's first line says
// which error: "# rejected: <text of helm's message>".
// Usage: node schema_rejects_bad_values_test.mjs HELM SOURCE_DIR BAD_VALUES_FILE
import fs from 'node:fs';
import path from 'node:path';
import { fail, run } from './deploy_test_support.mjs';

const [helm, sourceDir, badValues] = process.argv.slice(2);
if (!badValues) fail('usage: schema_rejects_bad_values_test.mjs HELM SOURCE_DIR BAD_VALUES_FILE');
const expected = /^# rejected: (.+)$/m.exec(fs.readFileSync(badValues, 'utf8'))?.[1];
if (!expected) fail(`${badValues} lacks its "# rejected: ..." line`);

const result = run([helm, 'template', 'release', path.join(sourceDir, 'helm/deltaserve'), '-f', badValues]);
const name = path.basename(badValues);
if (result.code === 0) fail(`helm accepted ${name}; expected the schema to reject it with: ${expected}`);
if (!result.err.includes("values don't meet the specifications of the schema")) {
  fail(`helm refused ${name}, but not through values.schema.json:\n${result.err}`);
}
if (!result.err.includes(expected)) fail(`helm refused ${name} for another reason; expected "${expected}" in:\n${result.err}`);
console.log(`ok: the schema rejects ${name}: ${expected}`);
