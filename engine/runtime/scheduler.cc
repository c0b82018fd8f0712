#include "engine/runtime/scheduler.h"

#include <algorithm>

namespace deltaserve {

Scheduler::Scheduler(const SchedulerConfig& config, BlockManager& block_manager)
    : config_(config), block_manager_(block_manager) {}

void Scheduler::Add(Sequence* seq) {
  seq->status = SequenceStatus::kWaiting;
  waiting_.insert(seq);
}

void Scheduler::Preempt(Sequence* seq) {
  block_manager_.Free(*seq);
  running_.erase(std::find(running_.begin(), running_.end(), seq));
  seq->status = SequenceStatus::kWaiting;
  waiting_.insert(seq);
  ++num_preemptions_;
}

bool Scheduler::ReserveBlocks(Sequence* seq, int64_t num_new_tokens) {
  while (!block_manager_.CanAppend(*seq, num_new_tokens)) {
    Sequence* victim = running_.back();
    Preempt(victim);
    if (victim == seq) return false;
  }
  block_manager_.Append(*seq, num_new_tokens);
  return true;
}

std::vector<ScheduledSequence> Scheduler::Schedule() {
  std::vector<ScheduledSequence> scheduled;
  int64_t budget = config_.max_num_batched_tokens;
  bool preempted = false;

  // Running sequences first, so decoding never starves behind new prompts. The loop
  // re-reads running_ because ReserveBlocks may shorten it.
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence* seq = running_[i];
    const int64_t num_new = std::min(seq->num_tokens() - seq->num_computed_tokens, budget);
    const size_t running_before = running_.size();
    if (!ReserveBlocks(seq, num_new)) {
      preempted = true;
      break;
    }
    preempted |= running_.size() != running_before;
    scheduled.push_back({seq, num_new});
    budget -= num_new;
  }

  // New work only when nothing had to be preempted for the running ones.
  while (!preempted && !waiting_.empty() && budget > 0 &&
         static_cast<int64_t>(running_.size()) < config_.max_num_seqs) {
    Sequence* seq = *waiting_.begin();
    if (!block_manager_.CanAllocate(*seq)) break;
    waiting_.erase(waiting_.begin());
    block_manager_.Allocate(*seq, seq->attention.mode == AttentionMode::kDelta ? seq->attention.lambda : 1);
    seq->status = SequenceStatus::kRunning;
    if (!seq->first_scheduled_time) seq->first_scheduled_time = Clock::now();
    running_.push_back(seq);
    const int64_t num_new = std::min(seq->num_tokens() - seq->num_computed_tokens, budget);
    scheduled.push_back({seq, num_new});
    budget -= num_new;
  }
  return scheduled;
}

bool Scheduler::ReserveAhead(const std::vector<ScheduledSequence>& in_flight) {
  if (!waiting_.empty() || in_flight.size() != running_.size()) return false;
  int64_t blocks = 0;
  for (size_t i = 0; i < in_flight.size(); ++i) {
    if (in_flight[i].seq != running_[i]) return false;
    blocks += block_manager_.BlocksToAppend(*in_flight[i].seq, in_flight[i].num_new_tokens + 1);
  }
  if (blocks > block_manager_.num_free_blocks()) return false;
  for (const ScheduledSequence& item : in_flight) block_manager_.Append(*item.seq, item.num_new_tokens + 1);
  return true;
}

void Scheduler::Remove(Sequence* seq) {
  waiting_.erase(seq);
  auto it = std::find(running_.begin(), running_.end(), seq);
  if (it != running_.end()) running_.erase(it);
  block_manager_.Free(*seq);
}

}  // namespace deltaserve
