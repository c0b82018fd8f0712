// RowWorkers calls the body once for every row, spreads the rows over its threads, runs
// them on the caller with one thread, and hands the first failure back to the caller.
#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/runtime/row_workers.h"

namespace deltaserve {
namespace {

TEST(RowWorkers, EveryRowOnceWhateverTheRowsAndThreads) {
  for (int threads : {1, 2, 3, 8}) {
    RowWorkers workers(threads);
    for (int64_t rows : {0, 1, 2, 7, 64, 65}) {
      std::vector<std::atomic<int>> calls(static_cast<size_t>(rows));
      workers.ForEach(rows, [&](int64_t row) { ++calls[static_cast<size_t>(row)]; });
      for (int64_t row = 0; row < rows; ++row) {
        EXPECT_EQ(calls[static_cast<size_t>(row)].load(), 1) << threads << " threads, " << rows << " rows, row " << row;
      }
    }
  }
}

TEST(RowWorkers, SeveralThreadsShareTheRows) {
  RowWorkers workers(4);
  std::mutex mutex;
  std::set<std::thread::id> seen;
  // Each row waits until a second thread has joined, so one thread cannot take them all.
  workers.ForEach(4, [&](int64_t) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      seen.insert(std::this_thread::get_id());
    }
    for (int spin = 0; spin < 2000; ++spin) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (seen.size() > 1) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  EXPECT_GT(seen.size(), 1u);
  EXPECT_EQ(seen.count(std::this_thread::get_id()), 0u);
}

TEST(RowWorkers, OneThreadRunsOnTheCaller) {
  RowWorkers workers(1);
  std::set<std::thread::id> seen;
  workers.ForEach(5, [&](int64_t) { seen.insert(std::this_thread::get_id()); });
  EXPECT_EQ(seen, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(RowWorkers, TheFirstFailureReachesTheCallerAfterEveryChunkEnded) {
  RowWorkers workers(3);
  std::atomic<int> finished{0};
  EXPECT_THROW(workers.ForEach(9,
                               [&](int64_t row) {
                                 if (row == 4) throw std::runtime_error("row 4");
                                 ++finished;
                               }),
               std::runtime_error);
  // The chunk of row 4 stops there (row 5 is its last); the other chunks run to the end.
  EXPECT_EQ(finished.load(), 7);
}

}  // namespace
}  // namespace deltaserve
