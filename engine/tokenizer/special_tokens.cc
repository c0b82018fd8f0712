#include "engine/tokenizer/special_tokens.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"

namespace deltaserve::tokenization {
namespace {

// The ids TemplateProcessing's "special_tokens" table lists for one template entry.
absl::StatusOr<std::vector<int32_t>> TemplateTokenIds(const JsonField& processor,
                                                      const JsonField& item) {
  DS_ASSIGN_OR_RETURN(const JsonField name_field, item.Get("id"));
  DS_ASSIGN_OR_RETURN(const std::string name, name_field.String());
  DS_ASSIGN_OR_RETURN(const JsonField table, processor.Get("special_tokens"));
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> entry, table.Find(name));
  if (!entry.has_value()) {
    return name_field.Error(absl::StrCat("\"", name, "\" is not in ", table.path()));
  }
  DS_ASSIGN_OR_RETURN(const JsonField ids_field, entry->Get("ids"));
  DS_ASSIGN_OR_RETURN(const std::vector<JsonField> elements, ids_field.Elements());
  std::vector<int32_t> ids;
  for (const JsonField& element : elements) {
    DS_ASSIGN_OR_RETURN(const int64_t id, element.Int());
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

// Appends the tokens a post-processor adds around a single sequence.
absl::Status AddPostProcessor(const JsonField& processor, SpecialTokenPlan* plan) {
  DS_ASSIGN_OR_RETURN(const JsonField type_field, processor.Get("type"));
  DS_ASSIGN_OR_RETURN(const std::string type, type_field.String());
  if (type == "ByteLevel") return absl::OkStatus();  // only adjusts offsets
  if (type == "Sequence") {
    DS_ASSIGN_OR_RETURN(const JsonField list, processor.Get("processors"));
    DS_ASSIGN_OR_RETURN(const std::vector<JsonField> elements, list.Elements());
    for (const JsonField& element : elements) DS_RETURN_IF_ERROR(AddPostProcessor(element, plan));
    return absl::OkStatus();
  }
  if (type != "TemplateProcessing") {
    return type_field.Error(absl::StrCat(
        "post_processor type \"", type,
        "\" is not supported (supported: TemplateProcessing, ByteLevel, Sequence)"));
  }
  DS_ASSIGN_OR_RETURN(const JsonField single, processor.Get("single"));
  DS_ASSIGN_OR_RETURN(const std::vector<JsonField> items, single.Elements());
  bool after_sequence = false;
  for (const JsonField& item : items) {
    DS_ASSIGN_OR_RETURN(const std::optional<JsonField> sequence, item.Find("Sequence"));
    if (sequence.has_value()) {
      after_sequence = true;
      continue;
    }
    DS_ASSIGN_OR_RETURN(const JsonField special, item.Get("SpecialToken"));
    DS_ASSIGN_OR_RETURN(const std::vector<int32_t> ids, TemplateTokenIds(processor, special));
    std::vector<int32_t>& side = after_sequence ? plan->suffix : plan->prefix;
    side.insert(side.end(), ids.begin(), ids.end());
  }
  return absl::OkStatus();
}

// bos_token / eos_token are a string or an AddedToken object {"content": ...}.
absl::StatusOr<std::optional<int32_t>> ConfigTokenId(const JsonField& config, std::string_view key,
                                                     const TokenLookup& lookup) {
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> field, config.Find(key));
  if (!field.has_value()) return std::nullopt;
  std::string content;
  if (field->is_object()) {
    DS_ASSIGN_OR_RETURN(const JsonField content_field, field->Get("content"));
    DS_ASSIGN_OR_RETURN(content, content_field.String());
  } else {
    DS_ASSIGN_OR_RETURN(content, field->String());
  }
  const std::optional<int32_t> id = lookup(content);
  if (!id.has_value()) {
    return field->Error(absl::StrCat("token \"", content, "\" is not in the vocabulary"));
  }
  return id;
}

absl::Status ApplyConfigFlag(const JsonField& config, std::string_view flag,
                             const std::optional<int32_t>& token, std::string_view token_key,
                             std::vector<int32_t>* side) {
  DS_ASSIGN_OR_RETURN(const std::optional<JsonField> field, config.Find(flag));
  if (!field.has_value()) return absl::OkStatus();
  DS_ASSIGN_OR_RETURN(const bool add, field->Bool());
  side->clear();
  if (!add) return absl::OkStatus();
  if (!token.has_value()) {
    return field->Error(absl::StrCat("is true but ", std::string(token_key), " is not set"));
  }
  side->push_back(*token);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SpecialTokenPlan> ParseSpecialTokenPlan(
    const std::optional<JsonField>& post_processor, const std::optional<JsonField>& config,
    const TokenLookup& lookup) {
  SpecialTokenPlan plan;
  if (post_processor.has_value()) DS_RETURN_IF_ERROR(AddPostProcessor(*post_processor, &plan));
  if (config.has_value()) {
    DS_ASSIGN_OR_RETURN(plan.bos_id, ConfigTokenId(*config, "bos_token", lookup));
    DS_ASSIGN_OR_RETURN(plan.eos_id, ConfigTokenId(*config, "eos_token", lookup));
    DS_RETURN_IF_ERROR(ApplyConfigFlag(*config, "add_bos_token", plan.bos_id, "bos_token", &plan.prefix));
    DS_RETURN_IF_ERROR(ApplyConfigFlag(*config, "add_eos_token", plan.eos_id, "eos_token", &plan.suffix));
  }
  // Without tokenizer_config.json, a one-token template prefix is the BOS.
  if (!plan.bos_id.has_value() && plan.prefix.size() == 1) plan.bos_id = plan.prefix[0];
  return plan;
}

}  // namespace deltaserve::tokenization
