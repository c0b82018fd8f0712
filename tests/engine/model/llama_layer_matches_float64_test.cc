// The float32 forward pass (one decoder layer, GQA, RoPE, SwiGLU, tied head) matches a
// float64 reference written here from the Llama equations: relative error < 1e-5.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "engine/model/llama_model.h"

namespace deltaserve {
namespace {

ModelConfig TinyConfig() {
  ModelConfig config;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.head_dim = 8;
  config.rms_norm_eps = 1e-5;
  config.rope_theta = 10000.0;
  config.max_position_embeddings = 64;
  config.tie_word_embeddings = true;
  config.vocab_size = 40;
  return config;
}

LlamaWeights RandomWeights(const ModelConfig& c) {
  auto w = [](std::initializer_list<int64_t> shape) { return at::randn(shape).mul_(0.3); };
  LlamaWeights weights;
  weights.embed_tokens = w({c.vocab_size, c.hidden_size});
  LlamaLayerWeights layer;
  layer.input_layernorm = at::rand({c.hidden_size}).add_(0.5);
  layer.q_proj = w({c.num_attention_heads * c.head_dim, c.hidden_size});
  layer.k_proj = w({c.num_key_value_heads * c.head_dim, c.hidden_size});
  layer.v_proj = w({c.num_key_value_heads * c.head_dim, c.hidden_size});
  layer.o_proj = w({c.hidden_size, c.num_attention_heads * c.head_dim});
  layer.post_attention_layernorm = at::rand({c.hidden_size}).add_(0.5);
  layer.gate_proj = w({c.intermediate_size, c.hidden_size});
  layer.up_proj = w({c.intermediate_size, c.hidden_size});
  layer.down_proj = w({c.hidden_size, c.intermediate_size});
  weights.layers.push_back(layer);
  weights.norm = at::rand({c.hidden_size}).add_(0.5);
  weights.lm_head = weights.embed_tokens;
  return weights;
}

at::Tensor RmsNorm64(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x / at::sqrt(x.pow(2).mean(-1, true) + eps) * w.to(at::kDouble);
}

at::Tensor Rope64(const at::Tensor& x, const ModelConfig& c) {  // x [T, heads, d]
  const int64_t tokens = x.size(0), half = c.head_dim / 2;
  at::Tensor out = x.clone();
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = t / std::pow(c.rope_theta, 2.0 * i / c.head_dim);
      at::Tensor a = x.select(0, t).select(1, i), b = x.select(0, t).select(1, i + half);
      out.select(0, t).select(1, i).copy_(a * std::cos(angle) - b * std::sin(angle));
      out.select(0, t).select(1, i + half).copy_(b * std::cos(angle) + a * std::sin(angle));
    }
  }
  return out;
}

at::Tensor Reference64(const ModelConfig& c, const LlamaWeights& w, const at::Tensor& tokens) {
  auto d64 = [](const at::Tensor& t) { return t.to(at::kDouble); };
  const LlamaLayerWeights& l = w.layers[0];
  const int64_t T = tokens.size(0), H = c.num_attention_heads, Hkv = c.num_key_value_heads, d = c.head_dim;
  at::Tensor x = d64(w.embed_tokens).index_select(0, tokens);
  at::Tensor h = RmsNorm64(x, l.input_layernorm, c.rms_norm_eps);
  at::Tensor q = Rope64(at::matmul(h, d64(l.q_proj).t()).view({T, H, d}), c);
  at::Tensor k = Rope64(at::matmul(h, d64(l.k_proj).t()).view({T, Hkv, d}), c);
  at::Tensor v = at::matmul(h, d64(l.v_proj).t()).view({T, Hkv, d});
  at::Tensor attn = at::zeros({T, H, d}, at::kDouble);
  for (int64_t head = 0; head < H; ++head) {
    const int64_t kv = head / (H / Hkv);
    at::Tensor scores = at::matmul(q.select(1, head), k.select(1, kv).t()) / std::sqrt(static_cast<double>(d));
    scores = scores.masked_fill(at::ones({T, T}, at::kBool).triu(1), -INFINITY);
    attn.select(1, head).copy_(at::matmul(at::softmax(scores, -1), v.select(1, kv)));
  }
  x = x + at::matmul(attn.view({T, H * d}), d64(l.o_proj).t());
  h = RmsNorm64(x, l.post_attention_layernorm, c.rms_norm_eps);
  at::Tensor gate = at::matmul(h, d64(l.gate_proj).t());
  at::Tensor mlp = at::matmul(gate * at::sigmoid(gate) * at::matmul(h, d64(l.up_proj).t()), d64(l.down_proj).t());
  x = x + mlp;
  return at::matmul(RmsNorm64(x, w.norm, c.rms_norm_eps), d64(w.lm_head).t());
}

TEST(LlamaLayerFloat64, LogitsOfEveryPositionMatchReference) {
  at::manual_seed(3);
  const ModelConfig config = TinyConfig();
  LlamaWeights weights = RandomWeights(config);
  const int64_t T = 12;
  at::Tensor tokens = at::randint(config.vocab_size, {T}, at::kLong);
  const at::Tensor expected = Reference64(config, weights, tokens);

  KvCache cache({1, 4, 4, config.num_key_value_heads, config.head_dim}, at::kFloat);
  CpuPagedAttention attention(cache, config);
  LlamaModel model(config, weights);
  const std::vector<int32_t> block_table{2, 0, 3};
  ForwardBatch batch;
  batch.token_ids = tokens;
  batch.attention.positions = at::arange(T, at::kLong);
  std::vector<int64_t> slots;
  for (int64_t t = 0; t < T; ++t) slots.push_back(block_table[t / 4] * 4 + t % 4);
  batch.attention.slots = at::tensor(slots, at::kLong);
  batch.attention.sequences.push_back({0, T, 0, T, block_table, AttentionConfig{}});
  batch.logit_rows = at::arange(T, at::kLong);
  const at::Tensor actual = model.Forward(batch, attention).to(at::kDouble);

  const double relative = (actual - expected).norm().item<double>() / expected.norm().item<double>();
  EXPECT_LT(relative, 1e-5);
}

}  // namespace
}  // namespace deltaserve
