// RoPE frequencies and rotations agree with the published formulas (Meta's llama3
// apply_scaling, linear position interpolation), computed here in double.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/model/rope.h"

namespace deltaserve {
namespace {

ModelConfig RopeConfig(RopeType type) {
  ModelConfig config;
  config.head_dim = 128;
  config.rope_theta = 500000.0;
  config.rope_scaling.type = type;
  config.rope_scaling.factor = 8.0;
  config.rope_scaling.low_freq_factor = 1.0;
  config.rope_scaling.high_freq_factor = 4.0;
  config.rope_scaling.original_max_position_embeddings = 8192;
  return config;
}

std::vector<double> FormulaFrequencies(const ModelConfig& config) {
  const RopeScaling& s = config.rope_scaling;
  std::vector<double> out;
  for (int64_t i = 0; i < config.head_dim; i += 2) {
    const double freq = 1.0 / std::pow(config.rope_theta, static_cast<double>(i) / config.head_dim);
    if (s.type == RopeType::kDefault) {
      out.push_back(freq);
    } else if (s.type == RopeType::kLinear) {
      out.push_back(freq / s.factor);
    } else {
      const double wavelen = 2 * M_PI / freq;
      const double low_freq_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
      const double high_freq_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
      if (wavelen < high_freq_wavelen) {
        out.push_back(freq);
      } else if (wavelen > low_freq_wavelen) {
        out.push_back(freq / s.factor);
      } else {
        const double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                              (s.high_freq_factor - s.low_freq_factor);
        out.push_back((1 - smooth) * freq / s.factor + smooth * freq);
      }
    }
  }
  return out;
}

class RopeFormula : public ::testing::TestWithParam<RopeType> {};

TEST_P(RopeFormula, InverseFrequenciesMatch) {
  const ModelConfig config = RopeConfig(GetParam());
  const std::vector<double> expected = FormulaFrequencies(config);
  at::Tensor actual = RopeInverseFrequencies(config);
  ASSERT_EQ(actual.numel(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual[static_cast<int64_t>(i)].item<float>(), expected[i], 2e-6 * expected[i]) << "pair " << i;
  }
}

TEST_P(RopeFormula, RotationMatchesHalfSplitFormula) {
  const ModelConfig config = RopeConfig(GetParam());
  const std::vector<double> freqs = FormulaFrequencies(config);
  RotaryEmbedding rope(config);
  const std::vector<int64_t> positions{0, 1, 17, 1000, 2047};
  at::Tensor q = at::randn({5, 2, 128});
  at::Tensor k = at::randn({5, 1, 128});
  at::Tensor q_in = q.to(at::kDouble), k_in = k.to(at::kDouble);
  rope.Apply(q, k, at::tensor(positions, at::kLong));
  const int64_t half = 64;
  for (int64_t t = 0; t < 5; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(positions[t]) * freqs[i];
      const double c = std::cos(angle), s = std::sin(angle);
      const double x1 = k_in[t][0][i].item<double>(), x2 = k_in[t][0][i + half].item<double>();
      EXPECT_NEAR(k[t][0][i].item<float>(), x1 * c - x2 * s, 2e-3);
      EXPECT_NEAR(k[t][0][i + half].item<float>(), x2 * c + x1 * s, 2e-3);
      const double y1 = q_in[t][1][i].item<double>(), y2 = q_in[t][1][i + half].item<double>();
      EXPECT_NEAR(q[t][1][i].item<float>(), y1 * c - y2 * s, 2e-3);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, RopeFormula,
                         ::testing::Values(RopeType::kDefault, RopeType::kLinear, RopeType::kLlama3));

TEST(RopeLlama3, ScalesOnlyLongWavelengths) {
  const ModelConfig config = RopeConfig(RopeType::kLlama3);
  at::Tensor scaled = RopeInverseFrequencies(config);
  ModelConfig plain = config;
  plain.rope_scaling.type = RopeType::kDefault;
  at::Tensor base = RopeInverseFrequencies(plain);
  EXPECT_EQ(scaled[0].item<float>(), base[0].item<float>());              // highest frequency kept
  EXPECT_FLOAT_EQ(scaled[63].item<float>(), base[63].item<float>() / 8);  // lowest divided by factor
}

}  // namespace
}  // namespace deltaserve
