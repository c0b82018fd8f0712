#pragma once

#include <cstdint>
#include <string>

namespace deltaserve {

// The command line of deltaserve-attention, as parsed (not yet validated).
struct AttentionCliFlags {
  std::string q;
  std::string k;
  std::string v;
  std::string out;
  std::string mode;
  int64_t window;
  int64_t sink;
  int64_t lambda;
  int64_t chunk;
};

// Parses argv with absl flags (exits on --help or an unknown flag, as absl does).
AttentionCliFlags ParseAttentionCliFlags(int argc, char** argv);

}  // namespace deltaserve
