// deltaserve-bench's decode throughput: tokens that arrive while every request has its
// first token and none has its last, over that interval.

#include <gtest/gtest.h>

#include "client/decode_window.h"

namespace deltaserve::client {
namespace {

// One token a message at each of the given times.
std::vector<TokenArrival> OneTokenEach(const std::vector<double>& seconds) {
  std::vector<TokenArrival> arrivals;
  for (double s : seconds) arrivals.push_back({s, 1});
  return arrivals;
}

TEST(DecodeWindow, CountsTokensAfterTheLastFirstTokenUpToTheFirstLastToken) {
  // The window is (2.5, 5]: the first request's 3, 4, 5 and the second's 3.5, 4.5.
  const DecodeWindow window =
      AllRunningDecodeWindow({OneTokenEach({1, 2, 3, 4, 5}), OneTokenEach({2.5, 3.5, 4.5, 5.5, 6.5})});
  EXPECT_DOUBLE_EQ(window.seconds, 2.5);
  EXPECT_EQ(window.tokens, 5);
  EXPECT_DOUBLE_EQ(window.tokens_per_second, 2.0);
}

TEST(DecodeWindow, CountsEveryTokenOfAMergedMessage) {
  const DecodeWindow window = AllRunningDecodeWindow({{{0, 1}, {1, 3}, {2, 2}}, {{0, 1}, {1, 1}, {2, 1}}});
  EXPECT_DOUBLE_EQ(window.seconds, 2);
  EXPECT_EQ(window.tokens, 7);
  EXPECT_DOUBLE_EQ(window.tokens_per_second, 3.5);
}

TEST(DecodeWindow, ZeroForRequestsThatRanOneAfterAnother) {
  const DecodeWindow window = AllRunningDecodeWindow({OneTokenEach({1, 2, 3}), OneTokenEach({4, 5, 6})});
  EXPECT_EQ(window.seconds, 0);
  EXPECT_EQ(window.tokens, 0);
  EXPECT_EQ(window.tokens_per_second, 0);
}

TEST(DecodeWindow, ZeroWhenSomeRequestHasFewerThanTwoMessagesInside) {
  // (2, 3] holds one message of each request: less than two decode steps.
  const DecodeWindow window = AllRunningDecodeWindow({OneTokenEach({1, 2, 3}), OneTokenEach({2, 3, 4})});
  EXPECT_EQ(window.seconds, 0);
  EXPECT_EQ(window.tokens_per_second, 0);
}

TEST(DecodeWindow, ZeroForARequestWithoutTokensOrNoRequests) {
  EXPECT_EQ(AllRunningDecodeWindow({OneTokenEach({1, 2, 3, 4}), {}}).tokens_per_second, 0);
  EXPECT_EQ(AllRunningDecodeWindow({}).tokens_per_second, 0);
}

TEST(DecodeWindow, OneRequestIsItsOwnDecodePhase) {
  const DecodeWindow window = AllRunningDecodeWindow({OneTokenEach({1, 2, 3, 4, 5})});
  EXPECT_DOUBLE_EQ(window.seconds, 4);
  EXPECT_EQ(window.tokens, 4);
  EXPECT_DOUBLE_EQ(window.tokens_per_second, 1);
}

}  // namespace
}  // namespace deltaserve::client
