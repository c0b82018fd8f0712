#include "client/decode_window.h"

#include <algorithm>
#include <limits>

namespace deltaserve::client {

DecodeWindow AllRunningDecodeWindow(const std::vector<std::vector<TokenArrival>>& arrivals) {
  if (arrivals.empty()) return {};
  double start = -std::numeric_limits<double>::infinity();
  double end = std::numeric_limits<double>::infinity();
  for (const std::vector<TokenArrival>& request : arrivals) {
    if (request.empty()) return {};
    start = std::max(start, request.front().seconds);
    end = std::min(end, request.back().seconds);
  }
  // The first token of the last request to start is its prefill's, not decode work
  // inside the window: the window opens just after it.
  DecodeWindow window;
  int64_t fewest_messages = std::numeric_limits<int64_t>::max();
  for (const std::vector<TokenArrival>& request : arrivals) {
    int64_t messages = 0;
    for (const TokenArrival& arrival : request) {
      if (arrival.seconds <= start || arrival.seconds > end) continue;
      ++messages;
      window.tokens += arrival.tokens;
    }
    fewest_messages = std::min(fewest_messages, messages);
  }
  if (fewest_messages < 2) return {};
  window.seconds = end - start;
  window.tokens_per_second = static_cast<double>(window.tokens) / window.seconds;
  return window;
}

}  // namespace deltaserve::client
