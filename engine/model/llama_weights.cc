#include "engine/model/llama_weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/ones.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/model/safetensors.h"
#include "engine/util/status_macros.h"

namespace deltaserve {
namespace {

namespace fs = std::filesystem;

using Shape = std::vector<int64_t>;
// Produces the tensor called `name` (Hugging Face spelling) of `shape`.
using TensorSource = std::function<absl::StatusOr<at::Tensor>(const std::string& name, const Shape& shape)>;

absl::StatusOr<LlamaLayerWeights> AssembleLayer(const ModelConfig& config, int64_t index, const TensorSource& source) {
  const std::string prefix = absl::StrCat("model.layers.", index, ".");
  const int64_t hidden = config.hidden_size;
  const int64_t ffn = config.intermediate_size;
  const int64_t q_width = config.num_attention_heads * config.head_dim;
  const int64_t kv_width = config.num_key_value_heads * config.head_dim;
  LlamaLayerWeights layer;
  DS_ASSIGN_OR_RETURN(layer.input_layernorm, source(prefix + "input_layernorm.weight", {hidden}));
  DS_ASSIGN_OR_RETURN(layer.q_proj, source(prefix + "self_attn.q_proj.weight", {q_width, hidden}));
  DS_ASSIGN_OR_RETURN(layer.k_proj, source(prefix + "self_attn.k_proj.weight", {kv_width, hidden}));
  DS_ASSIGN_OR_RETURN(layer.v_proj, source(prefix + "self_attn.v_proj.weight", {kv_width, hidden}));
  DS_ASSIGN_OR_RETURN(layer.o_proj, source(prefix + "self_attn.o_proj.weight", {hidden, q_width}));
  DS_ASSIGN_OR_RETURN(layer.post_attention_layernorm, source(prefix + "post_attention_layernorm.weight", {hidden}));
  DS_ASSIGN_OR_RETURN(layer.gate_proj, source(prefix + "mlp.gate_proj.weight", {ffn, hidden}));
  DS_ASSIGN_OR_RETURN(layer.up_proj, source(prefix + "mlp.up_proj.weight", {ffn, hidden}));
  DS_ASSIGN_OR_RETURN(layer.down_proj, source(prefix + "mlp.down_proj.weight", {hidden, ffn}));
  return layer;
}

// The one place that knows which tensors a Llama checkpoint holds and their shapes.
absl::StatusOr<LlamaWeights> AssembleWeights(const ModelConfig& config, const TensorSource& source) {
  const Shape vocab_by_hidden = {config.vocab_size, config.hidden_size};
  LlamaWeights weights;
  DS_ASSIGN_OR_RETURN(weights.embed_tokens, source("model.embed_tokens.weight", vocab_by_hidden));
  for (int64_t index = 0; index < config.num_hidden_layers; ++index) {
    DS_ASSIGN_OR_RETURN(LlamaLayerWeights layer, AssembleLayer(config, index, source));
    weights.layers.push_back(std::move(layer));
  }
  DS_ASSIGN_OR_RETURN(weights.norm, source("model.norm.weight", {config.hidden_size}));
  if (config.tie_word_embeddings) {
    weights.lm_head = weights.embed_tokens;
  } else {
    DS_ASSIGN_OR_RETURN(weights.lm_head, source("lm_head.weight", vocab_by_hidden));
  }
  return weights;
}

at::ScalarType ScalarTypeOf(WeightDtype dtype) {
  switch (dtype) {
    case WeightDtype::kFloat32:
      return at::kFloat;
    case WeightDtype::kBFloat16:
      return at::kBFloat16;
    case WeightDtype::kFloat16:
      return at::kHalf;
  }
  return at::kFloat;
}

// float32 tensors alias the read-only mapping (zero copy; an in-place op on one faults)
// and hold it alive through their deleter, so a tensor that outlives its LlamaWeights
// stays valid. bf16/fp16 are upcast into fresh memory. The safetensors format does not
// promise aligned data, so a misaligned tensor is copied first.
at::Tensor ToFloatTensor(const TensorView& view, const std::shared_ptr<const void>& mapping) {
  const at::TensorOptions options = at::TensorOptions().dtype(ScalarTypeOf(view.dtype));
  if (reinterpret_cast<uintptr_t>(view.data) % DtypeSize(view.dtype) != 0) {
    at::Tensor copy = at::empty(view.shape, options);
    std::memcpy(copy.data_ptr(), view.data, view.byte_size);
    return copy.to(at::kFloat);
  }
  at::Tensor stored = at::from_blob(
      const_cast<std::byte*>(view.data), view.shape, [mapping](void*) {}, options);
  return stored.to(at::kFloat);
}

std::string ShapeText(const Shape& shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

// Hands out checkpoint tensors by name after checking them against the config; what is
// never asked for is reported by CheckNothingLeft.
class TensorTaker {
 public:
  TensorTaker(const Checkpoint& checkpoint, WeightDtype dtype, std::shared_ptr<const void> mapping)
      : remaining_(checkpoint.tensors), source_(checkpoint.source), dtype_(dtype), mapping_(std::move(mapping)) {}

  bool Has(const std::string& name) const { return remaining_.count(name) != 0; }

  absl::StatusOr<at::Tensor> Take(const std::string& name, const Shape& shape) {
    const auto found = remaining_.find(name);
    if (found == remaining_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(source_.string(), ": missing tensor '", name, "'"));
    }
    const TensorView view = found->second;
    remaining_.erase(found);
    if (view.dtype != dtype_) {
      return Error(
          view, absl::StrCat("dtype ", DtypeName(view.dtype), " but config.json torch_dtype is ", DtypeName(dtype_)));
    }
    if (view.shape != shape) {
      return Error(view, absl::StrCat("shape ", ShapeText(view.shape), ", expected ", ShapeText(shape)));
    }
    return ToFloatTensor(view, mapping_);
  }

  // Rotary inverse frequencies are recomputed from the config, so old checkpoints that
  // saved them lose nothing; anything else left over means the config and checkpoint
  // disagree (e.g. more layers than num_hidden_layers).
  absl::Status CheckNothingLeft() const {
    for (const auto& [name, view] : remaining_) {
      if (absl::EndsWith(name, ".rotary_emb.inv_freq")) continue;
      return Error(view, "unexpected tensor (not part of a Llama model of this config)");
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status Error(const TensorView& view, const std::string& message) {
    return absl::InvalidArgumentError(absl::StrCat(view.file.string(), ": tensor '", view.name, "': ", message));
  }

  std::map<std::string, TensorView> remaining_;
  fs::path source_;
  WeightDtype dtype_;
  std::shared_ptr<const void> mapping_;
};

absl::StatusOr<LlamaWeights> TakeWeights(const Checkpoint& checkpoint, const ModelConfig& config) {
  auto mapping = std::make_shared<const std::vector<std::shared_ptr<const MappedFile>>>(checkpoint.mappings);
  TensorTaker taker(checkpoint, config.torch_dtype, mapping);
  DS_ASSIGN_OR_RETURN(LlamaWeights weights,
                      AssembleWeights(config, [&taker](const std::string& name, const Shape& shape) {
                        return taker.Take(name, shape);
                      }));
  // Some tied checkpoints still store lm_head (a copy of embed); it is checked, then unused.
  if (config.tie_word_embeddings && taker.Has("lm_head.weight")) {
    DS_RETURN_IF_ERROR(taker.Take("lm_head.weight", weights.embed_tokens.sizes().vec()).status());
  }
  DS_RETURN_IF_ERROR(taker.CheckNothingLeft());
  weights.mapping = std::move(mapping);
  return weights;
}

// A counter-based hash (SplitMix64's finalizer): random bits for any position, so a
// tensor fills in parallel chunks with the same result on any thread count.
uint64_t SplitMix64(uint64_t counter) {
  uint64_t z = counter * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t TensorStream(uint64_t seed, const std::string& name) {
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a of the name
  for (unsigned char c : name) hash = (hash ^ c) * 1099511628211ULL;
  return SplitMix64(seed ^ hash);
}

// A 1B-parameter model has 1.2 B matrix values, and ATen's normal_ costs about 10 ns
// each (15 s). So 2^16 normal(0, 0.02) draws (0.02 is Hugging Face Llama's
// initializer_range) are made once, and every element picks one of them with 16 bits
// of the hash: i.i.d. samples of a normal sample, at about 1 ns each.
constexpr int kPoolBits = 16;
constexpr int kPicksPerHash = 64 / kPoolBits;

at::Tensor NormalPool(uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::empty({int64_t{1} << kPoolBits}, at::kFloat).normal_(0.0, 0.02, generator);
}

at::Tensor SampleFromPool(const at::Tensor& pool, const Shape& shape, uint64_t stream) {
  at::Tensor matrix = at::empty(shape, at::kFloat);
  const float* draws = pool.data_ptr<float>();
  float* values = matrix.data_ptr<float>();
  const int64_t size = matrix.numel();
  const int64_t hashes = (size + kPicksPerHash - 1) / kPicksPerHash;
  auto fill = [&](int64_t begin, int64_t end) {
    for (int64_t h = begin; h < end; ++h) {
      uint64_t bits = SplitMix64(stream + static_cast<uint64_t>(h));
      const int64_t last = std::min(size, (h + 1) * kPicksPerHash);
      for (int64_t i = h * kPicksPerHash; i < last; ++i, bits >>= kPoolBits) {
        values[i] = draws[bits & ((uint64_t{1} << kPoolBits) - 1)];
      }
    }
  };
  // Plain threads: at::parallel_for stays serial in code built without OpenMP, which left
  // an 8B model's 8 s of filling on one core. Every element depends on its index alone,
  // so the split does not change the values.
  const int64_t threads = std::clamp<int64_t>(hashes >> 16, 1, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> workers;
  for (int64_t t = 1; t < threads; ++t) workers.emplace_back(fill, t * hashes / threads, (t + 1) * hashes / threads);
  fill(0, hashes / threads);
  for (std::thread& worker : workers) worker.join();
  return matrix;
}

}  // namespace

absl::StatusOr<LlamaWeights> LoadLlamaWeights(const fs::path& dir, const ModelConfig& config) {
  DS_ASSIGN_OR_RETURN(Checkpoint checkpoint, OpenCheckpoint(dir));
  try {
    return TakeWeights(checkpoint, config);
  } catch (const c10::Error& error) {
    return absl::InternalError(
        absl::StrCat(checkpoint.source.string(), ": converting weights failed: ", error.what_without_backtrace()));
  }
}

LlamaWeights MakeDummyLlamaWeights(const ModelConfig& config, uint64_t seed) {
  const at::Tensor pool = NormalPool(seed);
  absl::StatusOr<LlamaWeights> weights = AssembleWeights(config, [&](const std::string& name, const Shape& shape) {
    // Rank 1 are the RMSNorm gains, which start at one like Hugging Face's initializer.
    if (shape.size() == 1) return at::ones(shape, at::kFloat);
    return SampleFromPool(pool, shape, TensorStream(seed, name));
  });
  // The source above cannot fail, so neither can assembling from it.
  return *std::move(weights);
}

}  // namespace deltaserve
