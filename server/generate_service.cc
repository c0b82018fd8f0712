#include "server/generate_service.h"

#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/utf8.h"
#include "server/generation_call.h"
#include "server/response_to_wire.h"

namespace deltaserve::server {
namespace {

// Generate: outputs accumulate in the response, which is sent once at the end.
class UnaryGeneration final : public grpc::ServerUnaryReactor {
 public:
  UnaryGeneration(std::shared_ptr<ServingModel> model, ServerMetrics& metrics, grpc::CallbackServerContext* context,
                  const grpc::Status& authorization, const v1::GenerateRequest& request,
                  v1::GenerateResponse* response)
      : call_(std::move(model), metrics, context, request.request_id()), response_(response) {
    response_->set_request_id(request.request_id());
    const grpc::Status status =
        call_.Start(authorization, request, [this](RequestEvent event) { OnEvent(std::move(event)); });
    if (!status.ok()) Finish(status);
  }

  void OnCancel() override { call_.Cancel(); }
  void OnDone() override { delete this; }

 private:
  // Engine thread; nothing else writes the response until the last event.
  void OnEvent(RequestEvent event) {
    AppendOutput(event.output, response_);
    if (!event.last()) return;
    SetCompletion(event, response_);
    Finish(call_.Complete(event));
  }

  GenerationCall call_;
  v1::GenerateResponse* response_;
};

// GenerateStream: the engine thread never waits for the client. While a write is in
// flight, new outputs merge into one pending message (bounded by the request's own
// output), which goes out when the write completes.
class StreamGeneration final : public grpc::ServerWriteReactor<v1::GenerateStreamResponse> {
 public:
  StreamGeneration(std::shared_ptr<ServingModel> model, ServerMetrics& metrics, grpc::CallbackServerContext* context,
                   const grpc::Status& authorization, const v1::GenerateRequest& request)
      : call_(std::move(model), metrics, context, request.request_id()), request_id_(request.request_id()) {
    const grpc::Status status =
        call_.Start(authorization, request, [this](RequestEvent event) { OnEvent(std::move(event)); });
    if (!status.ok()) Finish(status);
  }

  void OnCancel() override { call_.Cancel(); }
  void OnDone() override { delete this; }

  void OnWriteDone(bool ok) override {
    if (!ok) call_.Cancel();  // the client is gone; the last event still comes
    std::unique_lock<std::mutex> lock(mutex_);
    writing_ = false;
    if (!ok) discard_ = true;
    Advance(lock);
  }

 private:
  void OnEvent(RequestEvent event) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (pending_ == nullptr) {
      pending_ = std::make_unique<v1::GenerateStreamResponse>();
      pending_->set_request_id(request_id_);
    }
    AppendOutput(event.output, pending_.get());
    if (event.last()) {
      final_status_ = call_.Complete(event);
      if (final_status_.ok()) SetCompletion(event, pending_.get());
      last_received_ = true;
    }
    Advance(lock);
  }

  // Starts the next write or the finish, whichever is due; called with mutex_ held and
  // releases it before calling into gRPC (Finish may destroy this object).
  void Advance(std::unique_lock<std::mutex>& lock) {
    if (writing_ || finished_) return;
    const bool has_output = pending_ != nullptr && (pending_->token_ids_size() > 0 || !pending_->text().empty() ||
                                                    (last_received_ && final_status_.ok()));
    if (has_output && !discard_) {
      in_flight_ = std::move(pending_);
      writing_ = true;
      lock.unlock();
      StartWrite(in_flight_.get());
      return;
    }
    if (!last_received_) return;
    finished_ = true;
    const grpc::Status status = final_status_;
    lock.unlock();
    Finish(status);
  }

  GenerationCall call_;
  const std::string request_id_;
  std::mutex mutex_;
  std::unique_ptr<v1::GenerateStreamResponse> pending_;
  std::unique_ptr<v1::GenerateStreamResponse> in_flight_;
  bool writing_ = false;
  bool discard_ = false;  // a write failed: nobody reads the rest
  bool last_received_ = false;
  bool finished_ = false;
  grpc::Status final_status_;
};

grpc::Status ModelLoading() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the model is still loading");
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

v1::AttentionMode AttentionModeToWire(AttentionMode mode) {
  switch (mode) {
    case AttentionMode::kDense: return v1::ATTENTION_MODE_DENSE;
    case AttentionMode::kSparse: return v1::ATTENTION_MODE_SPARSE;
    case AttentionMode::kRecompute: return v1::ATTENTION_MODE_RECOMPUTE;
    case AttentionMode::kDelta: return v1::ATTENTION_MODE_DELTA;
  }
  return v1::ATTENTION_MODE_UNSPECIFIED;
}

}  // namespace

grpc::ServerUnaryReactor* GenerateServiceImpl::Generate(grpc::CallbackServerContext* context,
                                                        const v1::GenerateRequest* request,
                                                        v1::GenerateResponse* response) {
  return new UnaryGeneration(model(), metrics_, context, auth_.Check(*context), *request, response);
}

grpc::ServerWriteReactor<v1::GenerateStreamResponse>* GenerateServiceImpl::GenerateStream(
    grpc::CallbackServerContext* context, const v1::GenerateStreamRequest* request) {
  return new StreamGeneration(model(), metrics_, context, auth_.Check(*context), request->request());
}

grpc::ServerUnaryReactor* GenerateServiceImpl::Tokenize(grpc::CallbackServerContext* context,
                                                        const v1::TokenizeRequest* request,
                                                        v1::TokenizeResponse* response) {
  if (grpc::Status refused = auth_.Check(*context); !refused.ok()) return FinishNow(context, refused);
  const std::shared_ptr<ServingModel> serving = model();
  if (serving == nullptr) return FinishNow(context, ModelLoading());
  if (serving->limits.tokenizer == nullptr) {
    return FinishNow(context, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "this model has no tokenizer"));
  }
  const size_t bad_byte = tokenization::FindInvalidUtf8(request->text());
  if (bad_byte != std::string::npos) {
    return FinishNow(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                           absl::StrCat("text: must be valid UTF-8, byte ", bad_byte, " is not")));
  }
  absl::StatusOr<std::vector<int32_t>> ids =
      serving->limits.tokenizer->Encode(request->text(), request->add_special_tokens());
  if (!ids.ok()) return FinishNow(context, ToGrpcStatus(ids.status()));
  response->mutable_token_ids()->Add(ids->begin(), ids->end());
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GenerateServiceImpl::Detokenize(grpc::CallbackServerContext* context,
                                                          const v1::DetokenizeRequest* request,
                                                          v1::DetokenizeResponse* response) {
  if (grpc::Status refused = auth_.Check(*context); !refused.ok()) return FinishNow(context, refused);
  const std::shared_ptr<ServingModel> serving = model();
  if (serving == nullptr) return FinishNow(context, ModelLoading());
  if (serving->limits.tokenizer == nullptr) {
    return FinishNow(context, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "this model has no tokenizer"));
  }
  for (int i = 0; i < request->token_ids_size(); ++i) {
    if (request->token_ids(i) >= serving->limits.vocab_size) {
      return FinishNow(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                             absl::StrCat("token_ids[", i, "]: ", request->token_ids(i),
                                                          " is outside the vocabulary [0, ",
                                                          serving->limits.vocab_size, ")")));
    }
  }
  const std::vector<int32_t> ids(request->token_ids().begin(), request->token_ids().end());
  absl::StatusOr<std::string> text = serving->limits.tokenizer->Decode(ids, request->skip_special_tokens());
  if (!text.ok()) return FinishNow(context, ToGrpcStatus(text.status()));
  response->set_text(*std::move(text));
  return FinishNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GenerateServiceImpl::GetModelInfo(grpc::CallbackServerContext* context,
                                                            const v1::GetModelInfoRequest*,
                                                            v1::GetModelInfoResponse* response) {
  if (grpc::Status refused = auth_.Check(*context); !refused.ok()) return FinishNow(context, refused);
  const std::shared_ptr<ServingModel> serving = model();
  if (serving == nullptr) return FinishNow(context, ModelLoading());
  const ModelConfig& config = serving->engine->model_config();
  response->set_description(serving->description);
  response->set_vocab_size(static_cast<uint32_t>(config.vocab_size));
  response->set_max_model_len(static_cast<uint32_t>(serving->limits.max_model_len));
  response->set_num_hidden_layers(static_cast<uint32_t>(config.num_hidden_layers));
  response->set_hidden_size(static_cast<uint32_t>(config.hidden_size));
  response->set_num_attention_heads(static_cast<uint32_t>(config.num_attention_heads));
  response->set_num_key_value_heads(static_cast<uint32_t>(config.num_key_value_heads));
  response->set_block_size(static_cast<uint32_t>(serving->engine->config().block_size));
  response->set_num_kv_cache_blocks(static_cast<uint32_t>(serving->num_kv_cache_blocks));
  response->set_max_logprobs(static_cast<uint32_t>(serving->limits.max_logprobs));
  for (int32_t eos : config.eos_token_ids) response->add_eos_token_ids(static_cast<uint32_t>(eos));
  response->set_has_tokenizer(serving->limits.tokenizer != nullptr);
  response->set_default_attention_mode(AttentionModeToWire(serving->default_attention_mode));
  return FinishNow(context, grpc::Status::OK);
}

}  // namespace deltaserve::server
