#include "tests/kernels/kernel_test_support.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace deltaserve::kernels::testing {

Bf16Bits ToBf16(float value) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  if (std::isnan(value)) return 0x7FC0;
  bits += 0x7FFF + ((bits >> 16) & 1);  // round to nearest even
  return static_cast<Bf16Bits>(bits >> 16);
}

float FromBf16(Bf16Bits bits) {
  const std::uint32_t widened = static_cast<std::uint32_t>(bits) << 16;
  float value = 0.f;
  std::memcpy(&value, &widened, sizeof(value));
  return value;
}

std::vector<float> FromBf16(const std::vector<Bf16Bits>& bits) {
  std::vector<float> values(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) values[i] = FromBf16(bits[i]);
  return values;
}

std::vector<Bf16Bits> RandomBf16(std::size_t count, float stddev, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, stddev);
  std::vector<Bf16Bits> values(count);
  for (auto& v : values) v = ToBf16(normal(rng));
  return values;
}

double RelativeError(const std::vector<float>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0;
  double norm = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    diff += (got[i] - want[i]) * (got[i] - want[i]);
    norm += want[i] * want[i];
  }
  return std::sqrt(diff / norm);
}

}  // namespace deltaserve::kernels::testing
