#include "engine/sampling/sampler.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace deltaserve {
namespace {

// Below this temperature, dividing logits by it overflows float32; such requests are
// greedy in effect, so they take the greedy path (vLLM draws the same line).
constexpr float kGreedyTemperature = 1e-5f;

// Ranking a whole vocabulary is a sort; instead, tokens are first grouped by how far their
// logit lies below the best one, in buckets of 1/16 nat, and only the one bucket where a
// prefix ends gets sorted. The last bucket holds everything more than 64 nats down, whose
// weight (< e^-64) no truncation can tell apart from zero.
constexpr float kBucketsPerNat = 16.0f;
constexpr size_t kBuckets = 1024;

bool InVocab(int32_t token, size_t vocab) {
  return token >= 0 && static_cast<size_t>(token) < vocab;
}

// Rows are sampled on the engine's own workers, many at once. The loops below stay off
// ATen on purpose: libtorch's kernels would each start a full OpenMP team from every
// worker, and 16 workers x 16 threads made a 64-row step take 12 ms on an H200 host.

// The row as CPU float32 (a GPU's rows arrive in bfloat16). NaN (a broken model row)
// becomes -inf so that it is never chosen and the ranking below stays a strict order.
std::vector<float> ToFloatVector(const at::Tensor& logits) {
  const bool direct = logits.device().is_cpu() && logits.is_contiguous() &&
                      (logits.scalar_type() == at::kFloat || logits.scalar_type() == at::kBFloat16);
  const at::Tensor row = direct ? logits : logits.to(at::kCPU, at::kFloat).contiguous();
  std::vector<float> values(static_cast<size_t>(row.numel()));
  if (row.scalar_type() == at::kBFloat16) {
    const c10::BFloat16* data = row.data_ptr<c10::BFloat16>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(data[i]);
  } else {
    std::copy_n(row.data_ptr<float>(), values.size(), values.begin());
  }
  for (float& value : values) {
    value = std::isnan(value) ? -std::numeric_limits<float>::infinity() : value;
  }
  return values;
}

// Lowest id among the largest logits.
int32_t Argmax(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// log(sum(exp(logits))), with the maximum factored out; a row of -inf gives -inf.
float LogSumExp(const std::vector<float>& logits) {
  const float best = *std::max_element(logits.begin(), logits.end());
  if (!std::isfinite(best)) return best;
  double sum = 0.0;
  for (float logit : logits) sum += std::exp(logit - best);
  return best + static_cast<float>(std::log(sum));
}

std::vector<int32_t> AllTokens(size_t vocab) {
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

// The ranking every truncation step agrees on: higher logit first, lower id on ties.
bool RanksBefore(const std::vector<float>& logits, int32_t a, int32_t b) {
  return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
}

// Buckets never reorder the ranking: a better token never lands in a later bucket.
size_t BucketOf(float logit, float best) {
  const float distance = (best - logit) * kBucketsPerNat;
  return distance < static_cast<float>(kBuckets - 1) ? static_cast<size_t>(distance) : kBuckets - 1;
}

// Walks the `candidates` (non-empty) from the best-ranked down, adding up `amount(id)`,
// and returns the token at which the sum first reaches `target`, or the worst-ranked one
// when rounding keeps the sum short. amount is 1 per token for top-k, the token's weight
// for top-p.
template <typename Amount>
int32_t PrefixBoundary(const std::vector<float>& logits, const std::vector<int32_t>& candidates,
                       Amount amount, double target) {
  const auto ranks_before = [&logits](int32_t a, int32_t b) { return RanksBefore(logits, a, b); };
  const float best = logits[*std::min_element(candidates.begin(), candidates.end(), ranks_before)];
  std::vector<double> bucket_amount(kBuckets, 0.0);
  for (int32_t id : candidates) bucket_amount[BucketOf(logits[id], best)] += amount(id);

  double reached = 0.0;
  size_t crossing = 0;
  while (crossing + 1 < kBuckets && reached + bucket_amount[crossing] < target) {
    reached += bucket_amount[crossing++];
  }
  std::vector<int32_t> crossing_tokens;
  for (int32_t id : candidates) {
    if (BucketOf(logits[id], best) == crossing) crossing_tokens.push_back(id);
  }
  std::sort(crossing_tokens.begin(), crossing_tokens.end(), ranks_before);
  for (int32_t id : crossing_tokens) {
    reached += amount(id);
    if (reached >= target) return id;
  }
  return *std::max_element(candidates.begin(), candidates.end(), ranks_before);
}

// The candidates that rank no lower than `boundary`, still in ascending id order.
std::vector<int32_t> UpTo(const std::vector<float>& logits, std::vector<int32_t> candidates,
                          int32_t boundary) {
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                  [&](int32_t id) { return RanksBefore(logits, boundary, id); }),
                   candidates.end());
  return candidates;
}

// The `count` best-ranked tokens, in ascending id order.
std::vector<int32_t> TopCount(const std::vector<float>& logits, size_t count) {
  std::vector<int32_t> all = AllTokens(logits.size());
  if (count >= all.size()) return all;
  if (count == 0) return {};
  const int32_t boundary = PrefixBoundary(
      logits, all, [](int32_t) { return 1.0; }, static_cast<double>(count));
  return UpTo(logits, std::move(all), boundary);
}

double SumOf(const std::vector<float>& weights, const std::vector<int32_t>& ids) {
  double sum = 0.0;
  for (int32_t id : ids) sum += weights[id];
  return sum;
}

// The smallest best-ranked part of `candidates` whose share of their mass reaches top_p.
std::vector<int32_t> Nucleus(const std::vector<float>& logits, const std::vector<float>& weights,
                             std::vector<int32_t> candidates, float top_p) {
  const double target = static_cast<double>(top_p) * SumOf(weights, candidates);
  const int32_t boundary = PrefixBoundary(
      logits, candidates, [&weights](int32_t id) { return static_cast<double>(weights[id]); },
      target);
  return UpTo(logits, std::move(candidates), boundary);
}

// Tokens whose probability is at least min_p times the best one's. Weights are relative to
// the best token (which weighs 1), so no normalisation is needed.
std::vector<int32_t> AtLeastMinP(const std::vector<float>& weights, std::vector<int32_t> candidates,
                                 float min_p) {
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                  [&](int32_t id) { return weights[id] < min_p; }),
                   candidates.end());
  return candidates;
}

// What top-k, then top-p, then min-p leave to sample from, in ascending id order.
std::vector<int32_t> AllowedTokens(const std::vector<float>& logits,
                                   const std::vector<float>& weights,
                                   const SamplingParams& params) {
  std::vector<int32_t> allowed = params.top_k > 0
                                     ? TopCount(logits, static_cast<size_t>(params.top_k))
                                     : AllTokens(logits.size());
  if (params.top_p < 1.0f) allowed = Nucleus(logits, weights, std::move(allowed), params.top_p);
  if (params.min_p > 0.0f) allowed = AtLeastMinP(weights, std::move(allowed), params.min_p);
  return allowed;
}

// Softmax numerators exp(logit - best): the best token weighs exactly 1. Logits must be
// finite, else inf - inf would make a NaN.
std::vector<float> RelativeWeights(const std::vector<float>& logits) {
  const float best = logits[Argmax(logits)];
  std::vector<float> weights(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) weights[i] = std::exp(logits[i] - best);
  return weights;
}

// Inverse CDF walked in ascending id order with a double accumulator, so that a seed gives
// the same token whatever order the truncation steps ranked tokens in.
int32_t InverseCdf(const std::vector<float>& weights, const std::vector<int32_t>& allowed,
                   double uniform) {
  const double target = uniform * SumOf(weights, allowed);
  double cumulative = 0.0;
  for (int32_t id : allowed) {
    cumulative += weights[id];
    if (cumulative > target) return id;
  }
  return allowed.back();  // rounding left the target at the very top of the mass
}

int32_t SampleWithTemperature(std::vector<float> logits, const SamplingParams& params,
                              double uniform) {
  // Clamping keeps weights finite when a penalty or the division overflowed, and gives a
  // row masked entirely with -inf a uniform draw instead of NaN.
  constexpr float kLowest = std::numeric_limits<float>::lowest();
  constexpr float kHighest = std::numeric_limits<float>::max();
  for (float& logit : logits) logit = std::clamp(logit / params.temperature, kLowest, kHighest);
  const std::vector<float> weights = RelativeWeights(logits);
  return InverseCdf(weights, AllowedTokens(logits, weights, params), uniform);
}

void ApplyRepetitionPenalty(absl::Span<float> logits, absl::Span<const int32_t> history,
                            float penalty) {
  if (penalty == 1.0f) return;
  std::vector<bool> penalized(logits.size(), false);
  for (int32_t token : history) {
    if (!InVocab(token, logits.size()) || penalized[token]) continue;
    penalized[token] = true;
    float& logit = logits[token];
    logit = logit > 0.0f ? logit / penalty : logit * penalty;
  }
}

void ApplyPresenceAndFrequencyPenalties(absl::Span<float> logits,
                                        absl::Span<const int32_t> generated, float presence,
                                        float frequency) {
  if (presence == 0.0f && frequency == 0.0f) return;
  std::vector<int32_t> counts(logits.size(), 0);
  for (int32_t token : generated) {
    if (InVocab(token, logits.size())) ++counts[token];
  }
  for (size_t id = 0; id < logits.size(); ++id) {
    if (counts[id] > 0) logits[id] -= presence + frequency * static_cast<float>(counts[id]);
  }
}

void ReportLogprobs(std::vector<float>& raw, int32_t top_count, SampledToken& sampled) {
  const float log_normalizer = LogSumExp(raw);
  sampled.logprob = raw[sampled.token] - log_normalizer;
  std::vector<int32_t> best = TopCount(raw, static_cast<size_t>(std::max(top_count, 0)));
  std::sort(best.begin(), best.end(),
            [&raw](int32_t a, int32_t b) { return RanksBefore(raw, a, b); });
  for (int32_t id : best) sampled.top_logprobs.emplace_back(id, raw[id] - log_normalizer);
}

}  // namespace

bool IsPlainGreedy(const SamplingParams& params) {
  return params.temperature < kGreedyTemperature && params.repetition_penalty == 1.0f &&
         params.presence_penalty == 0.0f && params.frequency_penalty == 0.0f && params.logprobs <= 0;
}

at::Tensor GreedyTokenIds(const at::Tensor& logits) {
  return logits.masked_fill(logits.isnan(), -std::numeric_limits<float>::infinity()).argmax(1);
}

void ApplyPenalties(absl::Span<float> logits, absl::Span<const int32_t> history,
                    size_t generated_count, const SamplingParams& params) {
  ApplyRepetitionPenalty(logits, history, params.repetition_penalty);
  const size_t generated = std::min(generated_count, history.size());
  ApplyPresenceAndFrequencyPenalties(logits, history.subspan(history.size() - generated),
                                     params.presence_penalty, params.frequency_penalty);
}

SampledToken SampleToken(const at::Tensor& logits, absl::Span<const int32_t> history,
                         size_t generated_count, const SamplingParams& params, SamplerRng& rng) {
  std::vector<float> raw = ToFloatVector(logits);
  SampledToken sampled;
  // An empty row has nothing to choose from; reading its maximum would be out of bounds.
  if (raw.empty()) return sampled;
  // Logprobs read the raw row; without them the row is processed in place.
  const bool report_logprobs = params.logprobs > 0;
  std::vector<float> processed = report_logprobs ? raw : std::move(raw);
  ApplyPenalties(absl::MakeSpan(processed), history, generated_count, params);
  sampled.token = params.temperature < kGreedyTemperature
                      ? Argmax(processed)
                      : SampleWithTemperature(std::move(processed), params, rng.Uniform());
  if (report_logprobs) ReportLogprobs(raw, params.logprobs, sampled);
  return sampled;
}

}  // namespace deltaserve
