#pragma once

#include <cstdint>
#include <vector>

namespace deltaserve::client {

// One streamed message that carried tokens: when it arrived (seconds since the run
// started) and how many tokens it held (the server merges outputs while a write is in
// flight, so a message may hold several).
struct TokenArrival {
  double seconds = 0;
  int64_t tokens = 0;
};

// Steady-state decode throughput. A run's generated tokens over its wall time include
// the prefill of every prompt (64 x 1K prompt tokens is over a second of GEMMs on an
// H200), so that figure never reaches what decoding alone does. This one counts only
// the interval in which every request had received its first token and none had
// received its last: (latest first arrival, earliest last arrival], the tokens whose
// message arrived in it, over its length.
struct DecodeWindow {
  double seconds = 0;
  int64_t tokens = 0;
  double tokens_per_second = 0;
};

// arrivals[i]: request i's messages in arrival order. All zero where no such interval
// exists (requests that ran one after another, or one without tokens) or where some
// request received fewer than 2 messages inside it: a rate over less than two decode
// steps says more about message timing than about decoding.
DecodeWindow AllRunningDecodeWindow(const std::vector<std::vector<TokenArrival>>& arrivals);

}  // namespace deltaserve::client
