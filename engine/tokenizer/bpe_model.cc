#include "engine/tokenizer/bpe_model.h"

#include <cstdio>
#include <queue>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/utf8.h"
#include "engine/util/status_macros.h"

namespace deltaserve::tokenization {
namespace {

constexpr size_t kMaxCachedWordBytes = 64;
constexpr size_t kMaxCacheEntries = 1 << 16;

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

std::string ByteTokenName(int byte) {
  char name[8];
  std::snprintf(name, sizeof(name), "<0x%02X>", byte);
  return name;
}

// A merge file line is "left right"; newer files write ["left", "right"].
absl::StatusOr<std::pair<std::string, std::string>> ParseMergePair(const JsonField& merge) {
  if (merge.is_array()) {
    DS_ASSIGN_OR_RETURN(const std::vector<JsonField> parts, merge.Elements());
    if (parts.size() != 2) return merge.Error("expected two tokens");
    DS_ASSIGN_OR_RETURN(std::string left, parts[0].String());
    DS_ASSIGN_OR_RETURN(std::string right, parts[1].String());
    return std::make_pair(std::move(left), std::move(right));
  }
  DS_ASSIGN_OR_RETURN(const std::string line, merge.String());
  const size_t space = line.find(' ');
  if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
    return merge.Error(absl::StrCat("expected \"left right\", got \"", line, "\""));
  }
  return std::make_pair(line.substr(0, space), line.substr(space + 1));
}

absl::Status RequireAbsentOrNull(const JsonField& model, std::string_view key) {
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> field, model.Find(key));
  if (field.has_value() && !(field->is_string() && field->json().get<std::string>().empty())) {
    return field->Error("is not supported (must be null)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Parse(const JsonField& model) {
  DS_ASSIGN_OR_RETURN(const JsonField type_field, model.Get("type"));
  DS_ASSIGN_OR_RETURN(const std::string type, type_field.String());
  if (type != "BPE") {
    return type_field.Error(
        absl::StrCat("model type \"", type, "\" is not supported (supported: BPE)"));
  }
  DS_RETURN_IF_ERROR(RequireAbsentOrNull(model, "continuing_subword_prefix"));
  DS_RETURN_IF_ERROR(RequireAbsentOrNull(model, "end_of_word_suffix"));
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> dropout, model.Find("dropout"));
  if (dropout.has_value() && !(dropout->json().is_number() && dropout->json().get<double>() == 0)) {
    return dropout->Error("BPE dropout is not supported (must be null)");
  }

  std::unique_ptr<BpeModel> bpe(new BpeModel());
  DS_ASSIGN_OR_RETURN(const JsonField vocab, model.Get("vocab"));
  DS_ASSIGN_OR_RETURN(const auto entries, vocab.Members());
  for (const auto& [token, id_field] : entries) {
    DS_ASSIGN_OR_RETURN(const int64_t id, id_field.Int());
    if (id < 0 || id > INT32_MAX) return id_field.Error(absl::StrCat("id ", id, " is out of range"));
    bpe->vocab_.emplace(token, static_cast<int32_t>(id));
    if (id >= bpe->id_limit()) bpe->tokens_.resize(id + 1);
    bpe->tokens_[id] = token;
  }

  DS_ASSIGN_OR_RETURN(const JsonField merges, model.Get("merges"));
  DS_ASSIGN_OR_RETURN(const std::vector<JsonField> merge_list, merges.Elements());
  bpe->merges_.reserve(merge_list.size());
  for (size_t rank = 0; rank < merge_list.size(); ++rank) {
    DS_ASSIGN_OR_RETURN(const auto pair, ParseMergePair(merge_list[rank]));
    const auto left = bpe->IdOf(pair.first);
    const auto right = bpe->IdOf(pair.second);
    const auto merged = bpe->IdOf(pair.first + pair.second);
    if (!left || !right || !merged) {
      return merge_list[rank].Error(absl::StrCat("merge \"", pair.first, "\" + \"", pair.second,
                                                 "\" uses or makes a token not in model.vocab"));
    }
    // A pair listed twice keeps its first (best) rank.
    bpe->merges_.try_emplace(PairKey(*left, *right),
                             MergeRule{static_cast<int32_t>(rank), *merged});
  }

  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> unk, model.Find("unk_token"));
  if (unk.has_value()) {
    DS_ASSIGN_OR_RETURN(const std::string unk_token, unk->String());
    bpe->unk_id_ = bpe->IdOf(unk_token);
    if (!bpe->unk_id_) return unk->Error(absl::StrCat("\"", unk_token, "\" is not in model.vocab"));
  }
  DS_ASSIGN_OR_RETURN(bpe->fuse_unk_, model.BoolOr("fuse_unk", false));
  DS_ASSIGN_OR_RETURN(bpe->byte_fallback_, model.BoolOr("byte_fallback", false));
  DS_ASSIGN_OR_RETURN(bpe->ignore_merges_, model.BoolOr("ignore_merges", false));
  for (int byte = 0; byte < 256; ++byte) bpe->byte_token_ids_[byte] = bpe->IdOf(ByteTokenName(byte));
  return bpe;
}

std::optional<int32_t> BpeModel::IdOf(std::string_view token) const {
  const auto it = vocab_.find(absl::string_view(token.data(), token.size()));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::TokenOf(int32_t id) const {
  if (id < 0 || id >= id_limit() || !tokens_[id].has_value()) return nullptr;
  return &*tokens_[id];
}

const BpeModel::MergeRule* BpeModel::FindMerge(int32_t left, int32_t right) const {
  const auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

std::vector<int32_t> BpeModel::InitialSymbols(std::string_view word) const {
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  bool previous_was_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = Utf8CharLength(word.substr(pos));
    const std::string_view character = word.substr(pos, length);
    pos += length;
    if (const auto id = IdOf(character)) {
      symbols.push_back(*id);
      previous_was_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes_known = true;
      for (const char byte : character) {
        all_bytes_known = all_bytes_known && byte_token_ids_[static_cast<uint8_t>(byte)].has_value();
      }
      if (all_bytes_known) {
        for (const char byte : character) symbols.push_back(*byte_token_ids_[static_cast<uint8_t>(byte)]);
        previous_was_unk = false;
        continue;
      }
    }
    // Without an unk token Hugging Face drops the character.
    if (unk_id_ && !(fuse_unk_ && previous_was_unk)) symbols.push_back(*unk_id_);
    previous_was_unk = unk_id_.has_value();
  }
  return symbols;
}

std::vector<int32_t> BpeModel::MergeByRank(std::vector<int32_t> symbols) const {
  struct Node {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  // Candidate merge of nodes[left] and its right neighbour, valid while both still hold
  // the ids they had when it was queued.
  struct Candidate {
    int32_t rank;
    int32_t left;
    int32_t right;
    int32_t left_id;
    int32_t right_id;
    int32_t merged_id;
  };
  // Lowest rank first; among equal ranks the leftmost, as Hugging Face does.
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);

  const auto count = static_cast<int32_t>(symbols.size());
  std::vector<Node> nodes(count);
  for (int32_t i = 0; i < count; ++i) nodes[i] = {symbols[i], i - 1, i + 1 < count ? i + 1 : -1, true};
  const auto enqueue = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    if (const MergeRule* rule = FindMerge(nodes[left].id, nodes[right].id)) {
      queue.push({rule->rank, left, right, nodes[left].id, nodes[right].id, rule->merged_id});
    }
  };
  for (int32_t i = 0; i + 1 < count; ++i) enqueue(i, i + 1);

  while (!queue.empty()) {
    const Candidate candidate = queue.top();
    queue.pop();
    Node& left = nodes[candidate.left];
    Node& right = nodes[candidate.right];
    if (!left.alive || !right.alive || left.next != candidate.right ||
        left.id != candidate.left_id || right.id != candidate.right_id) {
      continue;
    }
    left.id = candidate.merged_id;
    left.next = right.next;
    if (right.next >= 0) nodes[right.next].prev = candidate.left;
    right.alive = false;
    enqueue(left.prev, candidate.left);
    enqueue(candidate.left, left.next);
  }

  std::vector<int32_t> merged;
  for (int32_t i = count > 0 ? 0 : -1; i >= 0; i = nodes[i].next) merged.push_back(nodes[i].id);
  return merged;
}

void BpeModel::EncodeWord(std::string_view word, std::vector<int32_t>* ids) const {
  if (ignore_merges_) {
    if (const auto id = IdOf(word)) {
      ids->push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  const absl::string_view key(word.data(), word.size());
  if (cacheable) {
    absl::ReaderMutexLock lock(&cache_mutex_);
    const auto it = cache_.find(key);
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> word_ids = MergeByRank(InitialSymbols(word));
  ids->insert(ids->end(), word_ids.begin(), word_ids.end());
  if (cacheable) {
    absl::MutexLock lock(&cache_mutex_);
    if (cache_.size() < kMaxCacheEntries) cache_.emplace(std::string(word), std::move(word_ids));
  }
}

}  // namespace deltaserve::tokenization
