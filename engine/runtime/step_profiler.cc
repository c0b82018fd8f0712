#include "engine/runtime/step_profiler.h"

#include <sys/stat.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/version.h>

#include <fstream>
#include <iostream>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace deltaserve {
namespace {

namespace autograd_profiler = torch::autograd::profiler;
namespace profiler_impl = torch::profiler::impl;

profiler_impl::ProfilerConfig KinetoConfig() {
  return profiler_impl::ProfilerConfig(profiler_impl::ProfilerState::KINETO);
}

// CUDA activity only where the model runs on the GPU: the CPU engine launches no kernels.
std::set<profiler_impl::ActivityType> Activities(bool cuda) {
  if (cuda) return {profiler_impl::ActivityType::CPU, profiler_impl::ActivityType::CUDA};
  return {profiler_impl::ActivityType::CPU};
}

// {start, duration} in microseconds: PyTorch 2 times events in nanoseconds, 1.13 in
// microseconds.
std::pair<double, double> SpanUs(const autograd_profiler::KinetoEvent& event) {
#if TORCH_VERSION_MAJOR >= 2
  return {static_cast<double>(event.startNs()) / 1e3, static_cast<double>(event.durationNs()) / 1e3};
#else
  return {static_cast<double>(event.startUs()), static_cast<double>(event.durationUs())};
#endif
}

// The recorded ops as a Chrome trace in Kineto's own layout (cat "cpu_op").
absl::Status WriteOps(const std::vector<autograd_profiler::KinetoEvent>& events, const std::string& path) {
  nlohmann::json trace_events = nlohmann::json::array();
  for (const autograd_profiler::KinetoEvent& event : events) {
    const auto [start, duration] = SpanUs(event);
    trace_events.push_back({{"ph", "X"},
                            {"cat", "cpu_op"},
                            {"name", event.name()},
                            {"pid", 0},
                            {"tid", event.startThreadId()},
                            {"ts", start},
                            {"dur", duration}});
  }
  std::ofstream out(path);
  out << nlohmann::json{{"traceEvents", std::move(trace_events)}}.dump();
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status Save(autograd_profiler::ProfilerResult& result, const std::string& path) {
  try {
    result.save(path);
  } catch (const c10::Error&) {
    // A libtorch built without Kineto (Debian's 1.13) records the ops but refuses to
    // save them: written here instead, so the CPU engine can be traced too.
    return WriteOps(result.events(), path);
  }
  // Kineto logs a file it cannot open and returns.
  struct stat info;
  if (stat(path.c_str(), &info) != 0 || info.st_size == 0) {
    return absl::InternalError(absl::StrCat("Kineto wrote no trace to ", path));
  }
  return absl::OkStatus();
}

// A trace is a debugging aid: one that cannot be taken or written is logged and the
// engine serves on, since failing the step would fail the requests in it.
void LogFailure(const std::string& path, const std::string& what) {
  std::cerr << "deltaserve: torch profile " << path << ": " << what << " (serving continues)\n";
}

}  // namespace

StepProfiler::Trace::Trace(std::string path, bool cuda) : path_(std::move(path)) {
  if (path_.empty()) return;
  try {
    autograd_profiler::prepareProfiler(KinetoConfig(), Activities(cuda));
    autograd_profiler::enableProfiler(KinetoConfig(), Activities(cuda));
  } catch (const c10::Error& e) {
    LogFailure(path_, e.what_without_backtrace());
    path_.clear();
  }
}

StepProfiler::Trace::~Trace() {
  if (path_.empty()) return;
  absl::Status saved;
  try {
    std::unique_ptr<autograd_profiler::ProfilerResult> result = autograd_profiler::disableProfiler();
    saved = Save(*result, path_);
  } catch (const c10::Error& e) {
    saved = absl::InternalError(e.what_without_backtrace());
  } catch (const std::exception& e) {
    saved = absl::InternalError(e.what());
  }
  if (!saved.ok()) {
    LogFailure(path_, std::string(saved.message()));
  } else {
    std::cerr << "deltaserve: torch profile: wrote " << path_ << "\n";
  }
}

StepProfiler::StepProfiler(TorchProfileConfig config, bool cuda) : config_(std::move(config)), cuda_(cuda) {}

StepProfiler::Trace StepProfiler::Begin(bool carries_prompt_tokens) {
  if (config_.dir.empty() || carries_prompt_tokens == config_.decode) return Trace("", cuda_);
  const int64_t number = passes_of_traced_kind_++;
  if (number < config_.first_step || number - config_.first_step >= config_.steps) return Trace("", cuda_);
  return Trace(absl::StrCat(config_.dir, config_.decode ? "/decode-step-" : "/step-", number, ".json"), cuda_);
}

}  // namespace deltaserve
