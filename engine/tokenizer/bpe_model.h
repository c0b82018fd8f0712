#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/tokenizer/json_field.h"

namespace deltaserve::tokenization {

// tokenizer.json "model" of type BPE: a vocabulary and merges applied by rank, as
// Hugging Face's BPE model does, including byte fallback (<0xNN> tokens for characters
// outside the vocabulary), fused unknown tokens and ignore_merges.
class BpeModel {
 public:
  static absl::StatusOr<std::unique_ptr<BpeModel>> Parse(const JsonField& model);

  // Appends the ids of one pre-tokenized word. Thread-safe.
  void EncodeWord(std::string_view word, std::vector<int32_t>* ids) const;

  std::optional<int32_t> IdOf(std::string_view token) const;
  // nullptr for ids the vocabulary does not have.
  const std::string* TokenOf(int32_t id) const;
  // One more than the largest id in the vocabulary.
  int64_t id_limit() const { return static_cast<int64_t>(tokens_.size()); }

 private:
  struct MergeRule {
    int32_t rank;
    int32_t merged_id;
  };

  BpeModel() = default;
  // The word split into characters (or fallback bytes, or unk) before any merge.
  std::vector<int32_t> InitialSymbols(std::string_view word) const;
  std::vector<int32_t> MergeByRank(std::vector<int32_t> symbols) const;
  const MergeRule* FindMerge(int32_t left, int32_t right) const;

  absl::flat_hash_map<std::string, int32_t> vocab_;
  std::vector<std::optional<std::string>> tokens_;
  absl::flat_hash_map<uint64_t, MergeRule> merges_;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::array<std::optional<int32_t>, 256> byte_token_ids_;

  // Word -> ids for short words: prose repeats them, so most words skip the merge loop.
  mutable absl::Mutex cache_mutex_;
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> cache_
      ABSL_GUARDED_BY(cache_mutex_);
};

}  // namespace deltaserve::tokenization
