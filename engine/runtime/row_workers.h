#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace c10 {
class ThreadPool;
}

namespace deltaserve {

// Threads of one engine for its per-row host work (sampling a step's rows). ATen's
// at::parallel_for cannot do this here: it is a header template that stays serial in code
// built without OpenMP, and libtorch's inter-op pool counts physical cores as libtorch
// sees them (one on some virtual machines).
class RowWorkers {
 public:
  explicit RowWorkers(int threads);  // threads <= 1: every row on the calling thread
  ~RowWorkers();

  // Calls body(row) for every row in [0, rows) in contiguous chunks, one per thread, and
  // returns when all are done; rethrows the first exception a call threw.
  void ForEach(int64_t rows, const std::function<void(int64_t row)>& body);

 private:
  std::unique_ptr<c10::ThreadPool> pool_;
};

}  // namespace deltaserve
