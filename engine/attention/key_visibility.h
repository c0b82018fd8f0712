#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace deltaserve {

// Which keys a query at position i sees: j <= i and (j < sink or j > i - window)
// (DESIGN.md). Dense attention is the same rule with no sink and an unbounded window, so
// one tiled loop serves both.
struct KeyVisibility {
  int64_t sink = 0;
  int64_t window = std::numeric_limits<int64_t>::max();

  static KeyVisibility Causal() { return {}; }
  static KeyVisibility SinkAndWindow(int64_t sink, int64_t window) { return {sink, window}; }

  // First key of the sliding window of the query at `position`.
  int64_t WindowBegin(int64_t position) const {
    return std::max<int64_t>(0, position - window + 1);
  }
};

}  // namespace deltaserve
