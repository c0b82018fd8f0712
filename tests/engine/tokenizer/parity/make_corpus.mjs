// Writes corpus.jsonl: the strings the parity test encodes and decodes. Deterministic
// (fixed seed), so re-running it reproduces the committed file:
//   node tests/engine/tokenizer/parity/make_corpus.mjs > tests/engine/tokenizer/parity/corpus.jsonl
//
// Left out on purpose: U+0085 and U+FEFF. Hugging Face's Oniguruma treats U+0085 as \s
// and U+FEFF as not; JavaScript's \s does the opposite, so the reference would be
// wrong there, not us.

const handWritten = [
  "", " ", "  ", "   ", "\t", "\n", "\r\n", " \n ", "\n\n\n", "\t\t  \t",
  "Hello", "Hello world", " Hello world", "Hello world ", "Hello  world", "Hello\tworld",
  "Hello\r\nworld\r\n", "Once upon a time", "Once upon a time, there was a little girl named Lily.",
  "It's", "it's", "IT'S", "I'm", "you're", "we've", "they'll", "he'd", "don't", "DON'T",
  "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "tHe QuIcK",
  "1", "12", "123", "1234", "12345", "123456789", "3.14159", "-42", "1,000,000", "2024-11-27",
  "0x1F600", "1e-9", "v1.2.3", "$100.00", "50%", "+1 (555) 123-4567",
  "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }",
  "if x == 1:\n\tprint('one')\nelse:\n\tprint(\"other\")", "#include <stdio.h>\nint main(void) { return 0; }",
  "SELECT * FROM users WHERE id = 1;", "<div class=\"a\">text</div>", "{\"key\": [1, 2, 3], \"b\": null}",
  "a  b   c    d     e", "    indented", "trailing    ", "mixed \t \n \r\n whitespace",
  "😀", "😀😀😀", "Hello 😀 world", "👍🏽", "👍🏿👍🏻", "👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈", "❤️", "🇺🇸🇯🇵",
  "中文", "你好，世界！", "我爱自然语言处理。", "日本語のテキストです。", "カタカナ ひらがな 漢字", "한국어 텍스트",
  "مرحبا بالعالم", "السلام عليكم ورحمة الله", "שלום עולם", "עברית ו-English", "Ελληνικά κείμενα", "Русский текст",
  "café", "cafe\u0301", "naïve", "Ångström", "e\u0301\u0302\u0303", "Z\u0351\u0364\u036b\u0313a\u0352l\u0357go",
  "ﬁ ligature", "ǅ title case", "ß straße STRASSE", "İstanbul ıi", "\u00a0non-breaking\u00a0space",
  "\u2003em space\u2009thin", "zero\u200bwidth", "ｆｕｌｌｗｉｄｔｈ", "①②③", "Ⅻ roman", "½ ¾", "٣٤٥ arabic digits",
  "<s>", "</s>", "<unk>", "<s>Hello", "Hello<s>", "Hello <s> world", "a</s>b", "<s><s></s>", " <s> ",
  "<|begin_of_text|>", "<|end_of_text|>", "<|begin_of_text|>Hello", "Hi<|eot_id|>there",
  "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>", "<|reserved_special_token_5|>",
  "<|begin_of_text|><|begin_of_text|>", "<|not_a_token|>", "<|begin_of_text", "<s", "s>",
  "<0x41>", "<0xFF>", "▁", "▁▁Hello", "Hello▁world", "Ġ", "ĠHello",
  "!!!", "???", "...", "—", "–", "«quotes»", "“smart quotes”", "‘single’", "a.b.c", "x=y+z",
  "e-mail@example.com", "https://example.com/path?query=1&b=2#frag", "C:\\Windows\\System32",
  "~`!@#$%^&*()_+-={}[]|\\:;\"'<>,.?/", "'s 's 's", "' s", "''", "\"\"",
];

// Deterministic pseudo-random numbers (mulberry32).
function random(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const next = random(20251127);
const pick = (list) => list[Math.floor(next() * list.length)];

const words = ["the", "a", "time", "once", "upon", "Lily", "park", "ball", "happy", "running",
  "tokenizer", "internationalization", "über", "naïve", "中文", "日本", "😀", "👍🏽", "مرحبا", "שלום",
  "123", "4567", "x", "I'm", "don't", "<s>", "</s>", "<|begin_of_text|>", "<|eot_id|>", "\t", "\n",
  "\r\n", "  ", "Hello", "WORLD", "foo_bar", "fooBar", "e\u0301", "2+2", "(", ")", ",", ".", "!"];
const separators = [" ", " ", " ", "", "  ", "\n", "\t", ", ", ". "];

const generated = [];
for (let i = 0; i < 300; ++i) {
  const length = 1 + Math.floor(next() * 12);
  let text = "";
  for (let j = 0; j < length; ++j) text += pick(words) + pick(separators);
  generated.push(text);
}
// Whitespace runs of every kind and length, alone and between words.
for (const space of [" ", "\t", "\n", "\r\n", "\u00a0", "\u3000"]) {
  for (const count of [1, 2, 3, 7, 16]) {
    generated.push(space.repeat(count));
    generated.push(`word${space.repeat(count)}word`);
    generated.push(`${space.repeat(count)}lead`);
  }
}
// Long words and long repeats exercise many merges and the no-cache path.
generated.push("a".repeat(1000));
generated.push("ab".repeat(300));
generated.push("Supercalifragilisticexpialidocious".repeat(20));
generated.push("😀".repeat(200));
generated.push("中".repeat(300));
generated.push("1234567890".repeat(50));
generated.push("-".repeat(257));
generated.push(" ".repeat(500));
// Every printable ASCII character on its own, and every byte value's character.
for (let c = 32; c < 127; ++c) generated.push(String.fromCharCode(c));
for (let c = 128; c < 256; c += 3) if (c !== 0x85) generated.push(String.fromCharCode(c) + "x");

for (const text of [...handWritten, ...generated]) process.stdout.write(JSON.stringify(text) + "\n");
