#include "engine/runtime/row_workers.h"

#include <c10/core/thread_pool.h>

#include <algorithm>
#include <exception>
#include <mutex>

#include "absl/synchronization/blocking_counter.h"

namespace deltaserve {

RowWorkers::RowWorkers(int threads) {
  if (threads > 1) pool_ = std::make_unique<c10::ThreadPool>(threads);
}

RowWorkers::~RowWorkers() = default;

void RowWorkers::ForEach(int64_t rows, const std::function<void(int64_t row)>& body) {
  const int64_t chunks = pool_ == nullptr ? 1 : std::min<int64_t>(rows, static_cast<int64_t>(pool_->size()));
  if (chunks <= 1) {
    for (int64_t row = 0; row < rows; ++row) body(row);
    return;
  }
  absl::BlockingCounter done(static_cast<int>(chunks));
  std::mutex mutex;
  std::exception_ptr failure;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    pool_->run([&, chunk] {
      try {
        for (int64_t row = chunk * rows / chunks; row < (chunk + 1) * rows / chunks; ++row) body(row);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
      }
      done.DecrementCount();
    });
  }
  done.Wait();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace deltaserve
