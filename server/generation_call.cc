#include "server/generation_call.h"

#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace deltaserve::server {
namespace {

std::string StatusLabel(grpc::StatusCode code) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  // absl and gRPC share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

GenerationCall::GenerationCall(std::shared_ptr<ServingModel> model, ServerMetrics& metrics,
                               grpc::CallbackServerContext* context, std::string client_request_id)
    : model_(std::move(model)), metrics_(metrics), context_(context), client_request_id_(std::move(client_request_id)) {}

grpc::Status GenerationCall::Start(const grpc::Status& authorization, const v1::GenerateRequest& request,
                                   RequestEventCallback on_event) {
  if (!authorization.ok()) {
    Record(authorization, nullptr);
    return authorization;
  }
  absl::StatusOr<std::string> id = absl::UnavailableError("the model is still loading");
  if (model_ != nullptr) {
    absl::StatusOr<GenerationRequest> converted = RequestFromWire(request, model_->limits);
    id = converted.ok() ? model_->engine->Submit(*std::move(converted), std::move(on_event)) : converted.status();
  }
  if (!id.ok()) {
    const grpc::Status status = ToGrpcStatus(id.status());
    Record(status, nullptr);
    return status;
  }
  bool cancel_now = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    engine_id_ = *id;
    cancel_now = cancelled_;
  }
  if (cancel_now) model_->engine->Cancel(*id);
  return grpc::Status::OK;
}

void GenerationCall::Cancel() {
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    id = engine_id_;
  }
  if (!id.empty()) model_->engine->Cancel(id);
}

grpc::Status GenerationCall::Complete(const RequestEvent& last) {
  grpc::Status status = ToGrpcStatus(last.status);
  bool cancelled = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled = cancelled_;
  }
  if (status.ok() && cancelled) {
    status = context_->deadline() <= std::chrono::system_clock::now()
                 ? grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline exceeded")
                 : grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
  }
  Record(status, &last);
  return status;
}

void GenerationCall::Record(const grpc::Status& status, const RequestEvent* last) {
  RequestRecord record;
  record.status = StatusLabel(status.error_code());
  if (last != nullptr) {
    record.finish_reason = last->output.finish_reason;
    record.reached_engine = last->status.ok();
    record.prompt_tokens = last->output.prompt_tokens;
    record.completion_tokens = last->output.completion_tokens;
    record.timings = last->timings;
  }
  metrics_.ObserveRequest(record);
  // One line per request; a single fprintf keeps concurrent lines whole.
  const std::string line = absl::StrCat(
      "request id=", client_request_id_.empty() ? "-" : client_request_id_, " status=", record.status,
      " finish=", std::string(FinishReasonName(record.finish_reason)), " tokens_in=", record.prompt_tokens,
      " tokens_out=", record.completion_tokens, " queue_s=", record.timings.queue_seconds,
      " ttft_s=", record.timings.time_to_first_token_seconds, " total_s=", record.timings.total_seconds,
      status.ok() ? "" : absl::StrCat(" error=\"", status.error_message(), "\""), "\n");
  std::fputs(line.c_str(), stderr);
}

}  // namespace deltaserve::server
