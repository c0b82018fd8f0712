#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>

#include "deltaserve/v1/generate_service.pb.h"
#include "server/generate_service.h"

namespace deltaserve::server {

// The part of one Generate / GenerateStream call that does not depend on how outputs
// reach the client: conversion, submission, cancellation, and the log line and metrics
// at the end. The reactor owning it calls Cancel from OnCancel.
class GenerationCall {
 public:
  GenerationCall(std::shared_ptr<ServingModel> model, ServerMetrics& metrics, grpc::CallbackServerContext* context,
                 std::string client_request_id);

  // Converts and submits; on_event runs on the engine thread. A non-OK authorization
  // (the bearer-token check) refuses the request before anything else. A non-OK status
  // means the request never reached the engine (it has been logged and counted already).
  grpc::Status Start(const grpc::Status& authorization, const v1::GenerateRequest& request,
                     RequestEventCallback on_event);
  // The client went away or its deadline passed: stop the sequence before the next step.
  void Cancel();
  // The status to finish the RPC with after the last event; logs and counts the request.
  grpc::Status Complete(const RequestEvent& last);

 private:
  void Record(const grpc::Status& status, const RequestEvent* last);

  std::shared_ptr<ServingModel> model_;
  ServerMetrics& metrics_;
  grpc::CallbackServerContext* context_;
  std::string client_request_id_;
  std::mutex mutex_;
  std::string engine_id_;
  bool cancelled_ = false;
};

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace deltaserve::server
