// deltaserve-accuracy: how far sparse, recompute and delta prefill stray from dense
// prefill on a real model, per layer (cosine similarity of the attention outputs) and at
// the output (next-token KL divergence and top-1 agreement after the prompt, greedy
// continuation agreement), over a grid of windows and lambdas. Prints a table and can
// plot the per-layer cosines with gnuplot.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/attention/attention_config.h"
#include "engine/cache/kv_cache.h"
#include "engine/model/attention_backend.h"
#include "engine/model/llama_model.h"
#include "engine/runtime/model_source.h"
#include "engine/sampling/sampler.h"
#include "engine/util/command_line.h"
#include "engine/util/status_macros.h"

ABSL_FLAG(std::string, model, "", "Hugging Face model directory (config.json, safetensors, tokenizer.json)");
ABSL_FLAG(std::string, prompts_file, "", "prompts, one text per line (tokenized with the model's special tokens)");
ABSL_FLAG(int64_t, num_prompts, 0, "instead of --prompts-file: this many prompts sampled from the model after BOS");
ABSL_FLAG(int64_t, prompt_len, 256, "length in tokens of each sampled prompt, BOS included");
ABSL_FLAG(double, temperature, 1.0, "sampling temperature of the sampled prompts (0: greedy, all prompts equal)");
ABSL_FLAG(uint64_t, seed, 0, "sampled prompt i uses seed + i");
ABSL_FLAG(std::string, windows, "32,64,128", "sliding windows to try, comma-separated");
ABSL_FLAG(std::string, lambdas, "8,16,32", "delta / recompute anchor spacings to try, comma-separated");
ABSL_FLAG(int64_t, sink, 4, "sink tokens of sparse prefill");
ABSL_FLAG(int64_t, continuation, 16, "greedy tokens generated after the prompt in every mode and compared with dense");
ABSL_FLAG(std::string, plot, "", "write a PNG of the cosine similarity per layer by mode here (needs gnuplot)");
ABSL_FLAG(int32_t, threads, 0, "CPU threads (0: every core)");

namespace deltaserve {
namespace {

constexpr int64_t kBlockSize = 16;

// The model over the paged cache of one sequence, which is all this tool runs at a time.
// Prefill can capture every layer's attention output.
class SingleSequenceModel {
 public:
  SingleSequenceModel(const ModelConfig& config, LlamaWeights weights, int64_t max_tokens)
      : model_(config, std::move(weights)),
        cache_(KvCacheShape{config.num_hidden_layers, (max_tokens + kBlockSize - 1) / kBlockSize, kBlockSize,
                            config.num_key_value_heads, config.head_dim},
               at::kFloat),
        attention_(cache_, config, /*dense_layers=*/{}, [this](int64_t layer, const AttentionSequence&, const at::Tensor& out) {
          if (capture_ != nullptr) (*capture_)[layer] = out.to(at::kDouble);
        }) {
    for (int32_t block = 0; block < cache_.shape().num_blocks; ++block) block_table_.push_back(block);
  }

  const ModelConfig& config() const { return model_.config(); }

  // The next-token logits [vocab] after `prompt`; layers (if not null) gets each layer's
  // attention output [s, H, d] in float64.
  at::Tensor Prefill(const std::vector<int32_t>& prompt, const AttentionConfig& attention,
                     std::vector<at::Tensor>* layers) {
    if (layers != nullptr) layers->assign(model_.config().num_hidden_layers, at::Tensor());
    capture_ = layers;
    at::Tensor logits = Forward(prompt, 0, static_cast<int64_t>(prompt.size()), attention);
    capture_ = nullptr;
    return logits;
  }

  // The next-token logits after `token` at `position`, following a prefill of prompt_len.
  at::Tensor Decode(int32_t token, int64_t position, int64_t prompt_len, const AttentionConfig& attention) {
    return Forward({token}, position, prompt_len, attention);
  }

 private:
  at::Tensor Forward(const std::vector<int32_t>& tokens, int64_t start, int64_t prompt_len,
                     const AttentionConfig& attention) {
    const int64_t n = static_cast<int64_t>(tokens.size());
    ForwardBatch batch;
    batch.token_ids = at::tensor(std::vector<int64_t>(tokens.begin(), tokens.end()), at::kLong);
    // The block table is the identity, so a position is its own cache slot.
    batch.attention.positions = at::arange(start, start + n, at::kLong);
    batch.attention.slots = batch.attention.positions;
    batch.attention.sequences.push_back(AttentionSequence{0, n, start, prompt_len, block_table_, attention});
    batch.logit_rows = at::tensor(std::vector<int64_t>{n - 1}, at::kLong);
    return model_.Forward(batch, attention_)[0];
  }

  LlamaModel model_;
  KvCache cache_;
  CpuPagedAttention attention_;
  std::vector<int32_t> block_table_;
  std::vector<at::Tensor>* capture_ = nullptr;
};

// Continues after a prefill whose logits are `logits` for `count` tokens.
std::vector<int32_t> Continue(SingleSequenceModel& model, std::vector<int32_t> history, at::Tensor logits,
                              int64_t count, const AttentionConfig& attention, const SamplingParams& params,
                              SamplerRng& rng) {
  const int64_t prompt_len = static_cast<int64_t>(history.size());
  std::vector<int32_t> generated;
  for (int64_t i = 0; i < count; ++i) {
    const int32_t token = SampleToken(logits, history, generated.size(), params, rng).token;
    generated.push_back(token);
    history.push_back(token);
    if (i + 1 < count) logits = model.Decode(token, prompt_len + i, prompt_len, attention);
  }
  return generated;
}

SamplingParams GreedyParams() {
  SamplingParams params;
  params.temperature = 0.0f;
  return params;
}

// What one prefill mode produced on one prompt.
struct ModeRun {
  std::vector<at::Tensor> layers;  // attention outputs [s, H, d], float64
  at::Tensor logits;               // after the prompt, [vocab]
  std::vector<int32_t> continuation;
};

ModeRun RunMode(SingleSequenceModel& model, const std::vector<int32_t>& prompt, const AttentionConfig& attention,
                int64_t continuation) {
  ModeRun run;
  run.logits = model.Prefill(prompt, attention, &run.layers);
  SamplerRng unused_by_greedy(0);
  run.continuation = Continue(model, prompt, run.logits, continuation, attention, GreedyParams(), unused_by_greedy);
  return run;
}

// How close a mode came to dense; sums over prompts until Mean.
struct Score {
  std::vector<double> layer_cosine;  // mean over positions and heads
  double kl = 0;                     // KL(dense || mode) of the next token after the prompt
  double top1 = 0;                   // 1 when both pick the same next token
  double continuation = 0;           // share of greedy continuation tokens equal to dense's
  int64_t prompts = 0;

  void Add(const ModeRun& dense, const ModeRun& mode) {
    layer_cosine.resize(dense.layers.size(), 0.0);
    for (size_t layer = 0; layer < dense.layers.size(); ++layer) {
      layer_cosine[layer] += at::cosine_similarity(mode.layers[layer], dense.layers[layer], 2).mean().item<double>();
    }
    const at::Tensor log_p = at::log_softmax(dense.logits.to(at::kDouble), 0);
    const at::Tensor log_q = at::log_softmax(mode.logits.to(at::kDouble), 0);
    kl += (log_p.exp() * (log_p - log_q)).sum().item<double>();
    top1 += dense.logits.argmax().item<int64_t>() == mode.logits.argmax().item<int64_t>() ? 1.0 : 0.0;
    int64_t same = 0;
    for (size_t i = 0; i < dense.continuation.size(); ++i) same += dense.continuation[i] == mode.continuation[i];
    continuation += dense.continuation.empty() ? 1.0 : static_cast<double>(same) / dense.continuation.size();
    ++prompts;
  }

  Score Mean() const {
    Score mean = *this;
    const double n = static_cast<double>(prompts);
    for (double& cosine : mean.layer_cosine) cosine /= n;
    mean.kl /= n;
    mean.top1 /= n;
    mean.continuation /= n;
    return mean;
  }
};

// One row of the table: a mode at one grid point.
struct Row {
  AttentionConfig attention;
  Score score;
};

absl::StatusOr<std::vector<int64_t>> ParseList(const std::string& text, const std::string& flag) {
  std::vector<int64_t> values;
  for (absl::string_view piece : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(piece, &value)) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", std::string(piece), "' is not an integer"));
    }
    values.push_back(value);
  }
  if (values.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": give at least one value"));
  return values;
}

// The dense replay first (dense against dense: exactly 1 and 0 unless the forward pass
// is not deterministic), then every mode at every (window, lambda).
absl::StatusOr<std::vector<Row>> GridFromFlags() {
  DS_ASSIGN_OR_RETURN(std::vector<int64_t> windows, ParseList(absl::GetFlag(FLAGS_windows), "windows"));
  DS_ASSIGN_OR_RETURN(std::vector<int64_t> lambdas, ParseList(absl::GetFlag(FLAGS_lambdas), "lambdas"));
  std::vector<Row> rows{Row{AttentionConfig{AttentionMode::kDense, windows[0], absl::GetFlag(FLAGS_sink), lambdas[0]},
                            Score{}}};
  for (int64_t window : windows) {
    for (int64_t lambda : lambdas) {
      for (AttentionMode mode : {AttentionMode::kSparse, AttentionMode::kRecompute, AttentionMode::kDelta}) {
        rows.push_back(Row{AttentionConfig{mode, window, absl::GetFlag(FLAGS_sink), lambda}, Score{}});
      }
    }
  }
  for (const Row& row : rows) DS_RETURN_IF_ERROR(ValidateAttentionConfig(row.attention, "--"));
  return rows;
}

absl::StatusOr<std::vector<std::vector<int32_t>>> PromptsFromFile(const std::string& path, const Tokenizer* tokenizer) {
  if (tokenizer == nullptr) {
    return absl::InvalidArgumentError("--prompts-file: this model has no tokenizer.json; use --num-prompts");
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--prompts-file: cannot read ", path));
  std::vector<std::vector<int32_t>> prompts;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    DS_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer->Encode(line, /*add_special_tokens=*/true));
    prompts.push_back(std::move(ids));
  }
  if (prompts.empty()) return absl::InvalidArgumentError(absl::StrCat("--prompts-file: ", path, " has no prompt"));
  return prompts;
}

absl::StatusOr<std::vector<std::vector<int32_t>>> SampledPrompts(SingleSequenceModel& model) {
  const int64_t count = absl::GetFlag(FLAGS_num_prompts);
  const int64_t len = absl::GetFlag(FLAGS_prompt_len);
  if (len < 2) return absl::InvalidArgumentError(absl::StrCat("--prompt-len: must be at least 2, got ", len));
  if (!model.config().bos_token_id.has_value()) {
    return absl::InvalidArgumentError("--num-prompts: config.json has no bos_token_id to start from; use --prompts-file");
  }
  const std::vector<int32_t> bos{*model.config().bos_token_id};
  const AttentionConfig dense;
  SamplingParams params;
  params.temperature = static_cast<float>(absl::GetFlag(FLAGS_temperature));
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t i = 0; i < count; ++i) {
    SamplerRng rng(absl::GetFlag(FLAGS_seed) + static_cast<uint64_t>(i));
    std::vector<int32_t> prompt = bos;
    const std::vector<int32_t> story = Continue(model, bos, model.Prefill(bos, dense, nullptr), len - 1, dense, params, rng);
    prompt.insert(prompt.end(), story.begin(), story.end());
    prompts.push_back(std::move(prompt));
  }
  return prompts;
}

// The model's context must hold every prompt and its continuation.
absl::Status CheckLength(int64_t longest_prompt, int64_t continuation, const ModelConfig& config) {
  if (longest_prompt + continuation > config.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat("the longest prompt, ", longest_prompt,
                                                   " tokens, plus --continuation ", continuation,
                                                   " exceed the model's context of ", config.max_position_embeddings));
  }
  return absl::OkStatus();
}

void PrintTable(const std::vector<Row>& rows, int64_t num_layers, size_t num_prompts) {
  std::string header = absl::StrFormat("%-10s %6s %6s %6s", "mode", "sink", "window", "lambda");
  for (int64_t layer = 0; layer < num_layers; ++layer) absl::StrAppend(&header, absl::StrFormat(" %9s", absl::StrCat("cos_L", layer)));
  absl::StrAppend(&header, absl::StrFormat(" %9s %11s %6s %6s", "cos_mean", "kl", "top1", "cont"));
  std::cout << "# " << num_prompts << " prompts; cos: attention output vs dense (mean over positions and heads); "
            << "kl: KL(dense||mode) of the next token; top1, cont: agreement with dense\n"
            << header << "\n";
  for (const Row& row : rows) {
    const Score mean = row.score.Mean();
    const bool dense = row.attention.mode == AttentionMode::kDense;
    std::string line = absl::StrFormat("%-10s %6s %6s %6s", std::string(AttentionModeName(row.attention.mode)),
                                       dense ? "-" : absl::StrCat(row.attention.sink),
                                       dense ? "-" : absl::StrCat(row.attention.window),
                                       dense ? "-" : absl::StrCat(row.attention.lambda));
    double sum = 0;
    for (double cosine : mean.layer_cosine) {
      absl::StrAppend(&line, absl::StrFormat(" %9.6f", cosine));
      sum += cosine;
    }
    absl::StrAppend(&line, absl::StrFormat(" %9.6f %11.4e %6.3f %6.3f", sum / mean.layer_cosine.size(), mean.kl,
                                           mean.top1, mean.continuation));
    std::cout << line << "\n";
  }
}

// One panel per mode, one line per (window, lambda); the data goes inline to gnuplot.
absl::Status Plot(const std::vector<Row>& rows, const std::string& path, const std::string& title) {
  if (path.find('\'') != std::string::npos) return absl::InvalidArgumentError("--plot: the path must not contain '");
  FILE* gnuplot = popen("gnuplot", "w");
  if (gnuplot == nullptr) return absl::UnavailableError("--plot: cannot start gnuplot (Debian package gnuplot-nox)");
  // One y range for all panels, so that they compare at a glance.
  double lowest = 1.0;
  for (const Row& row : rows) {
    for (double cosine : row.score.Mean().layer_cosine) lowest = std::min(lowest, cosine);
  }
  std::string script = absl::StrCat(
      "set terminal pngcairo size 1500,520\nset output '", path, "'\nset multiplot layout 1,3 title '", title,
      "'\nset xlabel 'layer'\nset ylabel 'cosine similarity to dense'\nset key bottom left\nset grid\n",
      "set xtics 1\nset yrange [", absl::StrFormat("%.2f", std::floor(lowest * 100 - 1) / 100), ":1.002]\n");
  for (AttentionMode mode : {AttentionMode::kSparse, AttentionMode::kRecompute, AttentionMode::kDelta}) {
    std::string plots, data;
    for (const Row& row : rows) {
      if (row.attention.mode != mode) continue;
      absl::StrAppend(&plots, plots.empty() ? "plot " : ", ", "'-' using 1:2 with linespoints title 'w",
                      row.attention.window, " l", row.attention.lambda, "'");
      const Score mean = row.score.Mean();
      for (size_t layer = 0; layer < mean.layer_cosine.size(); ++layer) {
        absl::StrAppend(&data, layer, " ", absl::StrFormat("%.9f", mean.layer_cosine[layer]), "\n");
      }
      absl::StrAppend(&data, "e\n");
    }
    absl::StrAppend(&script, "set title '", std::string(AttentionModeName(mode)), "'\n", plots, "\n", data);
  }
  absl::StrAppend(&script, "unset multiplot\n");
  std::fputs(script.c_str(), gnuplot);
  const int status = pclose(gnuplot);
  if (status != 0) return absl::InternalError(absl::StrCat("--plot: gnuplot failed (status ", status, ")"));
  return absl::OkStatus();
}

absl::Status Run() {
  const std::string dir = absl::GetFlag(FLAGS_model);
  if (dir.empty()) return absl::InvalidArgumentError("--model: give a Hugging Face model directory");
  const bool from_file = !absl::GetFlag(FLAGS_prompts_file).empty();
  if (from_file == (absl::GetFlag(FLAGS_num_prompts) > 0)) {
    return absl::InvalidArgumentError("give exactly one of --prompts-file FILE and --num-prompts N");
  }
  if (absl::GetFlag(FLAGS_continuation) < 0) return absl::InvalidArgumentError("--continuation: must not be negative");
  DS_ASSIGN_OR_RETURN(std::vector<Row> rows, GridFromFlags());
  DS_ASSIGN_OR_RETURN(ModelSource source, LoadModelSource(dir, LoadFormat::kSafetensors));
  std::cerr << "model: " << source.description << "\n";
  std::vector<std::vector<int32_t>> prompts;
  if (from_file) {
    DS_ASSIGN_OR_RETURN(prompts, PromptsFromFile(absl::GetFlag(FLAGS_prompts_file), source.tokenizer.get()));
  }
  int64_t longest = absl::GetFlag(FLAGS_prompt_len);
  if (from_file) {
    longest = 0;
    for (const std::vector<int32_t>& prompt : prompts) longest = std::max<int64_t>(longest, prompt.size());
  }
  const int64_t continuation = absl::GetFlag(FLAGS_continuation);
  DS_RETURN_IF_ERROR(CheckLength(longest, continuation, source.config));
  SingleSequenceModel model(source.config, std::move(source.weights), longest + continuation);
  if (!from_file) {
    DS_ASSIGN_OR_RETURN(prompts, SampledPrompts(model));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::cerr << "prompt " << i + 1 << "/" << prompts.size() << ": " << prompts[i].size() << " tokens\n";
    const ModeRun dense = RunMode(model, prompts[i], AttentionConfig{}, continuation);
    for (Row& row : rows) row.score.Add(dense, RunMode(model, prompts[i], row.attention, continuation));
  }
  PrintTable(rows, model.config().num_hidden_layers, prompts.size());
  const std::string plot = absl::GetFlag(FLAGS_plot);
  if (plot.empty()) return absl::OkStatus();
  return Plot(rows, plot,
              absl::StrCat("attention output vs dense, ", prompts.size(), " prompts, sink ", absl::GetFlag(FLAGS_sink)));
}

}  // namespace
}  // namespace deltaserve

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "deltaserve-accuracy --model DIR (--prompts-file FILE | --num-prompts N --prompt-len L) "
      "[--windows 32,64,128] [--lambdas 8,16,32] [--sink 4] [--continuation 16] [--plot out.png]");
  deltaserve::ParseDashedCommandLine(argc, argv);
  const int32_t threads = absl::GetFlag(FLAGS_threads);
  at::set_num_threads(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  try {
    const absl::Status status = deltaserve::Run();
    if (!status.ok()) {
      std::cerr << "deltaserve-accuracy: " << status.message() << "\n";
      return 1;
    }
  } catch (const c10::Error& e) {
    std::cerr << "deltaserve-accuracy: " << e.what_without_backtrace() << "\n";
    return 1;
  }
  return 0;
}
