#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <vector>

#include "engine/runtime/block_manager.h"
#include "engine/runtime/sequence.h"

namespace deltaserve {

struct SchedulerConfig {
  int64_t max_num_seqs = 64;
  int64_t max_num_batched_tokens = 2048;
};

struct ScheduledSequence {
  Sequence* seq;
  int64_t num_new_tokens;  // rows of this sequence in the step
};

// Iteration-level continuous batching. Each step first gives every running sequence
// its next token (or its next prefill chunk), then admits waiting sequences in
// (priority, arrival) order while the token budget and max_num_seqs allow, chunking a
// prompt that does not fit the budget. When blocks run out, the most recently admitted
// running sequence is preempted: its blocks are freed and it is recomputed later.
class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, BlockManager& block_manager);

  void Add(Sequence* seq);
  std::vector<ScheduledSequence> Schedule();
  // For a step queued behind `in_flight` before its tokens are in: reserves each sequence
  // the cache slot of one token past its chunk in `in_flight` and returns true when that
  // step is the one Schedule would make then (`in_flight` runs every running sequence, in
  // order, nothing waits, and the blocks are free without preempting); else reserves
  // nothing and returns false.
  bool ReserveAhead(const std::vector<ScheduledSequence>& in_flight);
  // Removes seq (finished or cancelled) wherever it is and frees its blocks.
  void Remove(Sequence* seq);

  bool HasWork() const { return !waiting_.empty() || !running_.empty(); }
  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  int64_t num_preemptions() const { return num_preemptions_; }

 private:
  struct WaitingOrder {
    bool operator()(const Sequence* a, const Sequence* b) const {
      if (a->priority != b->priority) return a->priority < b->priority;
      return a->arrival < b->arrival;
    }
  };

  void Preempt(Sequence* seq);
  // Makes room for seq's next chunk by preempting later sequences; false if seq itself
  // had to go.
  bool ReserveBlocks(Sequence* seq, int64_t num_new_tokens);

  SchedulerConfig config_;
  BlockManager& block_manager_;
  std::set<Sequence*, WaitingOrder> waiting_;
  std::deque<Sequence*> running_;  // in admission order
  int64_t num_preemptions_ = 0;
};

}  // namespace deltaserve
