// The flags live in their own file because glog, which every libtorch header pulls in,
// declares a global FLAGS_v that --v would collide with, and absl forbids defining
// flags inside a namespace.
#include "engine/cli/attention_cli_flags.h"

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

ABSL_FLAG(std::string, q, "", "queries, .npy float32 [s, H, d]");
ABSL_FLAG(std::string, k, "", "keys, .npy float32 [s, Hkv, d]");
ABSL_FLAG(std::string, v, "", "values, .npy float32 [s, Hkv, d]");
ABSL_FLAG(std::string, out, "", "output path, .npy float32 [s, H, d]");
ABSL_FLAG(std::string, mode, "dense", "dense | sparse | recompute | delta");
ABSL_FLAG(int64_t, window, 2048, "sliding window of sparse attention");
ABSL_FLAG(int64_t, sink, 1024, "sink keys of sparse attention");
ABSL_FLAG(int64_t, lambda, 64, "anchor spacing of recompute and delta");
ABSL_FLAG(int64_t, chunk, 0, "prefill in chunks of this many tokens (0: one call)");

namespace deltaserve {

AttentionCliFlags ParseAttentionCliFlags(int argc, char** argv) {
  // absl's --help lists the flags of files named after the program; these live here.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) { return absl::EndsWith(path, "attention_cli_flags.cc"); };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "--q Q.npy --k K.npy --v V.npy --out OUT.npy --mode dense|sparse|recompute|delta "
      "[--window W --sink S --lambda L --chunk C]");
  absl::ParseCommandLine(argc, argv);
  return {absl::GetFlag(FLAGS_q),      absl::GetFlag(FLAGS_k),    absl::GetFlag(FLAGS_v),
          absl::GetFlag(FLAGS_out),    absl::GetFlag(FLAGS_mode), absl::GetFlag(FLAGS_window),
          absl::GetFlag(FLAGS_sink),   absl::GetFlag(FLAGS_lambda), absl::GetFlag(FLAGS_chunk)};
}

}  // namespace deltaserve
