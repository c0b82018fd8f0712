// deltaserve-attention: one layer's prefill attention of .npy inputs through the engine's
// attention code, one-shot or chunk by chunk, for checking modes against other
// implementations. Bad input prints one line naming the flag or file and exits 2.

#include <ATen/ATen.h>

#include <cstdint>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/attention/npy.h"
#include "engine/attention/prefill_attention.h"
#include "engine/cli/attention_cli_flags.h"
#include "engine/util/status_macros.h"

namespace deltaserve {

namespace {

struct Inputs {
  at::Tensor q;
  at::Tensor k;
  at::Tensor v;
};

absl::Status WithFlag(std::string_view flag, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("--", std::string(flag), " ", status.message()));
}

absl::StatusOr<std::string> RequiredPath(std::string_view flag, const std::string& value) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat("--", std::string(flag), ": required"));
  return value;
}

absl::StatusOr<at::Tensor> ReadFlagFile(std::string_view flag, const std::string& path_flag) {
  DS_ASSIGN_OR_RETURN(const std::string path, RequiredPath(flag, path_flag));
  absl::StatusOr<at::Tensor> tensor = ReadNpyFloat32(path);
  if (!tensor.ok()) return WithFlag(flag, tensor.status());
  if (tensor->dim() != 3 || tensor->numel() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--", std::string(flag), " ", path, ": shape (",
                                                   absl::StrJoin(tensor->sizes(), ", "),
                                                   ") is not a non-empty [s, heads, d]"));
  }
  return tensor;
}

absl::Status CheckShapes(const Inputs& inputs) {
  const auto shape = [](const at::Tensor& t) { return absl::StrCat("(", absl::StrJoin(t.sizes(), ", "), ")"); };
  if (!inputs.k.sizes().equals(inputs.v.sizes())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--v: shape ", shape(inputs.v), " differs from --k shape ", shape(inputs.k)));
  }
  if (inputs.k.size(0) != inputs.q.size(0) || inputs.k.size(2) != inputs.q.size(2)) {
    return absl::InvalidArgumentError(absl::StrCat("--k: shape ", shape(inputs.k), " does not match --q shape ",
                                                   shape(inputs.q), " in length s and head dim d"));
  }
  if (inputs.q.size(1) % inputs.k.size(1) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--q/--k: query heads H=", inputs.q.size(1),
                                                   " are not a multiple of KV heads Hkv=", inputs.k.size(1)));
  }
  return absl::OkStatus();
}

absl::StatusOr<AttentionConfig> ConfigFromFlags(const AttentionCliFlags& flags) {
  AttentionConfig config;
  absl::StatusOr<AttentionMode> mode = ParseAttentionMode(flags.mode);
  if (!mode.ok()) return absl::InvalidArgumentError(absl::StrCat("--mode: ", mode.status().message()));
  config.mode = *mode;
  config.window = flags.window;
  config.sink = flags.sink;
  config.lambda = flags.lambda;
  DS_RETURN_IF_ERROR(ValidateAttentionConfig(config, "--"));
  return config;
}

// Feeds the prompt to PrefillAttention in chunks of `chunk` queries, each with the keys
// and values up to its last query, as the engine's chunked prefill does.
at::Tensor ChunkedPrefill(const Inputs& inputs, const AttentionConfig& config, int64_t chunk) {
  const int64_t prompt_len = inputs.q.size(0);
  at::Tensor out = at::empty_like(inputs.q);
  DeltaCarry carry;
  for (int64_t start = 0; start < prompt_len; start += chunk) {
    const int64_t end = std::min(prompt_len, start + chunk);
    out.slice(0, start, end)
        .copy_(PrefillAttention(inputs.q.slice(0, start, end), inputs.k.slice(0, 0, end), inputs.v.slice(0, 0, end),
                                start, prompt_len, config, {&carry, nullptr, nullptr}));
  }
  return out;
}

absl::Status Run(const AttentionCliFlags& flags) {
  DS_ASSIGN_OR_RETURN(const AttentionConfig config, ConfigFromFlags(flags));
  const int64_t chunk = flags.chunk;
  if (chunk < 0) return absl::InvalidArgumentError(absl::StrCat("--chunk must be >= 0, got ", chunk));
  DS_ASSIGN_OR_RETURN(const std::string out_path, RequiredPath("out", flags.out));
  Inputs inputs;
  DS_ASSIGN_OR_RETURN(inputs.q, ReadFlagFile("q", flags.q));
  DS_ASSIGN_OR_RETURN(inputs.k, ReadFlagFile("k", flags.k));
  DS_ASSIGN_OR_RETURN(inputs.v, ReadFlagFile("v", flags.v));
  DS_RETURN_IF_ERROR(CheckShapes(inputs));
  at::Tensor out;
  try {
    out = ChunkedPrefill(inputs, config, chunk == 0 ? inputs.q.size(0) : chunk);
  } catch (const c10::Error& error) {
    return absl::InternalError(absl::StrCat("attention failed: ", error.what_without_backtrace()));
  }
  return WithFlag("out", WriteNpyFloat32(out_path, out));
}

}  // namespace
}  // namespace deltaserve

int main(int argc, char** argv) {
  const absl::Status status = deltaserve::Run(deltaserve::ParseAttentionCliFlags(argc, argv));
  if (!status.ok()) {
    std::cerr << "deltaserve-attention: " << status.message() << "\n";
    return 2;
  }
  return 0;
}
