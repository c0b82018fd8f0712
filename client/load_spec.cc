#include "client/load_spec.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace deltaserve::client {
namespace {

absl::StatusOr<std::vector<RequestShape>> ReadShapes(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--lengths-file: cannot open ", path));
  std::vector<RequestShape> shapes;
  RequestShape shape;
  while (in >> shape.prompt_tokens >> shape.output_tokens) {
    if (shape.prompt_tokens < 1 || shape.output_tokens < 1) {
      return absl::InvalidArgumentError(absl::StrCat("--lengths-file: ", path, " line ", shapes.size() + 1,
                                                     ": lengths must be >= 1"));
    }
    shapes.push_back(shape);
  }
  if (!in.eof() || shapes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--lengths-file: ", path, " must hold lines of two integers: prompt_tokens output_tokens"));
  }
  return shapes;
}

}  // namespace

absl::StatusOr<std::vector<RequestShape>> DrawShapes(const LengthSpec& spec, int64_t count, std::mt19937_64& rng) {
  std::vector<RequestShape> shapes;
  if (!spec.file.empty()) {
    absl::StatusOr<std::vector<RequestShape>> listed = ReadShapes(spec.file);
    if (!listed.ok()) return listed.status();
    for (int64_t i = 0; i < count; ++i) shapes.push_back((*listed)[static_cast<size_t>(i) % listed->size()]);
    return shapes;
  }
  if (spec.prompt_min < 1 || spec.prompt_max < spec.prompt_min || spec.output_min < 1 ||
      spec.output_max < spec.output_min) {
    return absl::InvalidArgumentError("lengths: need 1 <= --prompt-len <= --prompt-len-max and "
                                      "1 <= --output-len <= --output-len-max");
  }
  std::uniform_int_distribution<int64_t> prompt(spec.prompt_min, spec.prompt_max);
  std::uniform_int_distribution<int64_t> output(spec.output_min, spec.output_max);
  for (int64_t i = 0; i < count; ++i) shapes.push_back(RequestShape{prompt(rng), output(rng)});
  return shapes;
}

Percentiles Summarize(std::vector<double> samples) {
  Percentiles result;
  result.count = static_cast<int64_t>(samples.size());
  if (samples.empty()) return result;
  std::sort(samples.begin(), samples.end());
  const auto rank = [&](double q) {
    const auto index = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size()))) - 1;
    return samples[std::min(index, samples.size() - 1)];
  };
  result.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  result.p50 = rank(0.50);
  result.p90 = rank(0.90);
  result.p99 = rank(0.99);
  return result;
}

}  // namespace deltaserve::client
