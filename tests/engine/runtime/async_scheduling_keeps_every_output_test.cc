// With async_scheduling a decode step's pass is queued before the previous step's tokens
// reach the host, its tokens read on the device. Whatever happens meanwhile (a request
// ends on EOS, a stop id or a stop string, arrives, is cancelled, is preempted, samples
// with a temperature), every request gets exactly the outputs it gets when the steps run
// one after the other, and passes really were launched ahead where they could be.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/engine/runtime/stories260k.h"

namespace deltaserve::testing {
namespace {

GenerationRequest Request(const std::string& id, int32_t salt, SamplingParams sampling) {
  return GenerationRequest{id, PromptOfLength(12 + 3 * salt, salt), std::move(sampling), DenseAttention(), 0};
}

// Actions on the engine before the step of that number (0 is before the first).
using Script = std::map<int, std::function<void(LLMEngine&)>>;

struct ScriptRun {
  std::map<std::string, Completion> completions;
  std::map<std::string, int> first_output_step;
  EngineStats stats;
};

ScriptRun RunScript(EngineConfig config, bool async_scheduling, const Script& script) {
  config.async_scheduling = async_scheduling;
  auto engine = MakeStories260KEngine(config);
  ScriptRun run;
  const int last_action = script.empty() ? 0 : script.rbegin()->first;
  for (int step = 0; step <= last_action || engine->HasUnfinishedRequests(); ++step) {
    if (auto action = script.find(step); action != script.end()) action->second(*engine);
    if (!engine->HasUnfinishedRequests()) continue;
    absl::StatusOr<std::vector<RequestOutput>> outputs = engine->Step();
    EXPECT_TRUE(outputs.ok()) << outputs.status();
    if (!outputs.ok()) break;
    AddOutputs(*outputs, run.completions);
    for (const RequestOutput& output : *outputs) run.first_output_step.emplace(output.request_id, step);
  }
  run.stats = engine->stats();
  return run;
}

// The same script stepped in turn and with passes launched ahead.
void ExpectSameOutputs(const EngineConfig& config, const Script& script, bool expect_ahead = true) {
  const ScriptRun in_turn = RunScript(config, false, script);
  const ScriptRun ahead = RunScript(config, true, script);
  EXPECT_EQ(in_turn.stats.passes_launched_ahead, 0);
  if (expect_ahead) {
    EXPECT_GT(ahead.stats.passes_launched_ahead, 0);
  }
  ASSERT_EQ(ahead.completions.size(), in_turn.completions.size());
  for (const auto& [id, expected] : in_turn.completions) {
    const Completion& got = ahead.completions.at(id);
    EXPECT_EQ(got.ids, expected.ids) << id;
    EXPECT_EQ(got.text, expected.text) << id;
    EXPECT_EQ(got.finish_reason, expected.finish_reason) << id;
    // An arrival waits at most for the pass already launched ahead.
    EXPECT_LE(ahead.first_output_step.at(id), in_turn.first_output_step.at(id) + 1) << id;
  }
  EXPECT_EQ(ahead.stats.running, 0);
  EXPECT_EQ(ahead.stats.kv_cache_usage, 0.0);
}

SamplingParams GreedyIgnoringEos(int64_t max_tokens) {
  SamplingParams sampling = Greedy(max_tokens);
  sampling.ignore_eos = true;
  return sampling;
}

TEST(AsyncScheduling, RequestsEndingEveryWayKeepTheirOutputs) {
  // What the requests generate when nothing stops them early, to stop them on purpose.
  const ScriptRun free_running = RunScript(SmallEngineConfig(), false, {{0, [](LLMEngine& engine) {
                                                                     for (int salt : {2, 3}) {
                                                                       ASSERT_TRUE(engine.AddRequest(Request(
                                                                           "free" + std::to_string(salt), salt,
                                                                           GreedyIgnoringEos(30))).ok());
                                                                     }
                                                                   }}});
  const std::vector<int32_t>& ids = free_running.completions.at("free2").ids;
  const std::string& text = free_running.completions.at("free3").text;
  ASSERT_GE(ids.size(), 6u);
  ASSERT_GE(text.size(), 20u);

  SamplingParams stop_id = Greedy(30);
  stop_id.stop_token_ids = {ids[5]};
  SamplingParams stop_string = Greedy(30);
  stop_string.stop = {text.substr(12, 4)};
  const Script script{{0, [&](LLMEngine& engine) {
                         ASSERT_TRUE(engine.AddRequest(Request("long", 1, GreedyIgnoringEos(40))).ok());
                         ASSERT_TRUE(engine.AddRequest(Request("stop_id", 2, stop_id)).ok());
                         ASSERT_TRUE(engine.AddRequest(Request("stop_string", 3, stop_string)).ok());
                         ASSERT_TRUE(engine.AddRequest(Request("eos", 4, Greedy(120))).ok());
                         ASSERT_TRUE(engine.AddRequest(Request("short", 5, Greedy(3))).ok());
                       }}};
  ExpectSameOutputs(SmallEngineConfig(), script);
  // Both stopped early, while "long" still ran with a pass launched ahead of them.
  const ScriptRun ahead = RunScript(SmallEngineConfig(), true, script);
  EXPECT_EQ(ahead.completions.at("stop_id").finish_reason, FinishReason::kStop);
  EXPECT_EQ(ahead.completions.at("stop_string").finish_reason, FinishReason::kStop);
  EXPECT_LE(ahead.completions.at("stop_id").ids.size(), 6u);
}

TEST(AsyncScheduling, EveryDecodePassButNoneBeyondTheLengthIsLaunchedAhead) {
  const Script script{{0, [](LLMEngine& engine) {
                         ASSERT_TRUE(engine.AddRequest(Request("a", 1, GreedyIgnoringEos(10))).ok());
                         ASSERT_TRUE(engine.AddRequest(Request("b", 2, GreedyIgnoringEos(10))).ok());
                       }}};
  ExpectSameOutputs(SmallEngineConfig(), script);
  // One prompt pass yields the first tokens; the nine decode passes all go ahead.
  EXPECT_EQ(RunScript(SmallEngineConfig(), true, script).stats.passes_launched_ahead, 9);
}

TEST(AsyncScheduling, ArrivalsAndCancellationsBetweenStepsKeepOutputs) {
  const Script script{
      {0,
       [](LLMEngine& engine) {
         ASSERT_TRUE(engine.AddRequest(Request("a", 1, GreedyIgnoringEos(30))).ok());
         ASSERT_TRUE(engine.AddRequest(Request("b", 2, GreedyIgnoringEos(30))).ok());
       }},
      {6, [](LLMEngine& engine) { ASSERT_TRUE(engine.AddRequest(Request("c", 3, GreedyIgnoringEos(20))).ok()); }},
      {9, [](LLMEngine& engine) { EXPECT_EQ(engine.Abort("a").size(), 1u); }},
      {14, [](LLMEngine& engine) { EXPECT_EQ(engine.Abort("b").size(), 1u); }},
  };
  ExpectSameOutputs(SmallEngineConfig(), script);
}

TEST(AsyncScheduling, PreemptionUnderATinyCacheKeepsOutputs) {
  EngineConfig config = SmallEngineConfig();
  config.block_size = 4;
  // 5 layers x 2 x 4 tokens x 4 heads x 8 dims x 4 bytes = 5120 bytes a block; 40 blocks.
  config.kv_cache_bytes = 40 * 5120;
  const Script script{{0, [](LLMEngine& engine) {
                         for (int salt = 0; salt < 6; ++salt) {
                           ASSERT_TRUE(
                               engine.AddRequest(Request("p" + std::to_string(salt), salt, GreedyIgnoringEos(40))).ok());
                         }
                       }}};
  ExpectSameOutputs(config, script);
  EXPECT_GT(RunScript(config, true, script).stats.preemptions, 0);
}

TEST(AsyncScheduling, SampledRowsRunInTurn) {
  SamplingParams sampled = Greedy(25);
  sampled.temperature = 0.8f;
  sampled.seed = 7;
  const Script script{{0, [&](LLMEngine& engine) {
                         ASSERT_TRUE(engine.AddRequest(Request("greedy", 1, GreedyIgnoringEos(25))).ok());
                         ASSERT_TRUE(engine.AddRequest(Request("sampled", 2, sampled)).ok());
                       }}};
  ExpectSameOutputs(SmallEngineConfig(), script, /*expect_ahead=*/false);
  EXPECT_EQ(RunScript(SmallEngineConfig(), true, script).stats.passes_launched_ahead, 0);
}

TEST(AsyncScheduling, CancellingEverythingWhileAPassIsAheadEndsCleanly) {
  EngineConfig config = SmallEngineConfig();
  config.async_scheduling = true;
  auto engine = MakeStories260KEngine(config);
  ASSERT_TRUE(engine->AddRequest(Request("a", 1, GreedyIgnoringEos(30))).ok());
  ASSERT_TRUE(engine->AddRequest(Request("b", 2, GreedyIgnoringEos(30))).ok());
  for (int step = 0; step < 4; ++step) ASSERT_TRUE(engine->Step().ok());
  ASSERT_GT(engine->stats().passes_launched_ahead, 0);
  EXPECT_EQ(engine->Abort("a").size(), 1u);
  EXPECT_EQ(engine->Abort("b").size(), 1u);
  // The pass launched ahead is still to be waited for; its rows are dropped.
  EXPECT_TRUE(engine->HasUnfinishedRequests());
  absl::StatusOr<std::vector<RequestOutput>> last = engine->Step();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_TRUE(last->empty());
  EXPECT_FALSE(engine->HasUnfinishedRequests());
  EXPECT_EQ(engine->stats().kv_cache_usage, 0.0);
}

}  // namespace
}  // namespace deltaserve::testing
