// deltaserve-cli: one call to a deltaserve server.
//   deltaserve-cli [--target HOST:PORT] generate|stream --prompt TEXT | --prompt-ids 1,2,3 [sampling flags]
//   deltaserve-cli tokenize --prompt TEXT | detokenize --prompt-ids 1,2,3
//   deltaserve-cli health | model-info
// TLS and token: --tls-ca-file [--tls-cert-file --tls-key-file] [--auth-token-file].

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/optional.h"
#include "client/deltaserve_client.h"
#include "client/security_flags.h"
#include "engine/util/command_line.h"
#include "engine/util/status_macros.h"
#include <google/protobuf/util/json_util.h>

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server address host:port");
ABSL_FLAG(double, timeout, 0, "deadline of the call in seconds (0: none)");
ABSL_FLAG(absl::optional<std::string>, prompt, absl::nullopt, "prompt text");
ABSL_FLAG(std::string, prompt_ids, "", "prompt as comma-separated token ids");
ABSL_FLAG(std::string, request_id, "", "request id echoed by the server and in its log");
ABSL_FLAG(absl::optional<int64_t>, max_tokens, absl::nullopt, "tokens to generate at most (default: the server's)");
ABSL_FLAG(absl::optional<double>, temperature, absl::nullopt, "sampling temperature; 0 is greedy");
ABSL_FLAG(absl::optional<double>, top_p, absl::nullopt, "nucleus sampling mass");
ABSL_FLAG(absl::optional<int32_t>, top_k, absl::nullopt, "keep the k most likely tokens");
ABSL_FLAG(absl::optional<uint64_t>, seed, absl::nullopt, "sampling seed");
ABSL_FLAG(std::vector<std::string>, stop, {}, "stop strings, comma-separated");
ABSL_FLAG(bool, ignore_eos, false, "keep generating past EOS");
ABSL_FLAG(int32_t, logprobs, 0, "report this many alternatives per token");
ABSL_FLAG(std::string, attention_mode, "", "dense|sparse|recompute|delta (default: the server's)");
ABSL_FLAG(bool, add_special_tokens, true, "tokenize: add BOS/EOS as the tokenizer says");
ABSL_FLAG(bool, json, false, "print responses as JSON");

namespace deltaserve::client {
namespace {

absl::StatusOr<std::vector<uint32_t>> ParseIds(const std::string& text) {
  std::vector<uint32_t> ids;
  for (absl::string_view piece : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    uint32_t id = 0;
    if (!absl::SimpleAtoi(piece, &id)) {
      return absl::InvalidArgumentError(absl::StrCat("--prompt-ids: '", piece, "' is not a token id"));
    }
    ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<v1::GenerateRequest> RequestFromFlags() {
  v1::GenerateRequest request;
  request.set_request_id(absl::GetFlag(FLAGS_request_id));
  const absl::optional<std::string> prompt = absl::GetFlag(FLAGS_prompt);
  if (prompt.has_value()) request.set_prompt(*prompt);
  DS_ASSIGN_OR_RETURN(std::vector<uint32_t> ids, ParseIds(absl::GetFlag(FLAGS_prompt_ids)));
  request.mutable_prompt_token_ids()->Add(ids.begin(), ids.end());
  v1::SamplingParams* sampling = request.mutable_sampling();
  if (auto value = absl::GetFlag(FLAGS_max_tokens)) sampling->set_max_tokens(static_cast<uint32_t>(*value));
  if (auto value = absl::GetFlag(FLAGS_temperature)) sampling->set_temperature(static_cast<float>(*value));
  if (auto value = absl::GetFlag(FLAGS_top_p)) sampling->set_top_p(static_cast<float>(*value));
  if (auto value = absl::GetFlag(FLAGS_top_k)) sampling->set_top_k(*value);
  if (auto value = absl::GetFlag(FLAGS_seed)) sampling->set_seed(*value);
  for (const std::string& stop : absl::GetFlag(FLAGS_stop)) sampling->add_stop(stop);
  sampling->set_ignore_eos(absl::GetFlag(FLAGS_ignore_eos));
  request.set_logprobs(static_cast<uint32_t>(absl::GetFlag(FLAGS_logprobs)));
  DS_ASSIGN_OR_RETURN(v1::AttentionMode mode, AttentionModeFromName(absl::GetFlag(FLAGS_attention_mode)));
  request.mutable_attention()->set_mode(mode);
  return request;
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json << "\n";
}

template <typename Message>
void PrintCompletion(const Message& last) {
  std::cerr << "finish_reason: " << v1::FinishReason_Name(last.finish_reason())
            << ", prompt_tokens: " << last.usage().prompt_tokens()
            << ", completion_tokens: " << last.usage().completion_tokens()
            << ", cached_prompt_tokens: " << last.usage().cached_prompt_tokens()
            << ", ttft_s: " << last.timings().time_to_first_token_seconds()
            << ", total_s: " << last.timings().total_seconds() << "\n";
}

absl::Status Generate(const DeltaServeClient& client) {
  DS_ASSIGN_OR_RETURN(v1::GenerateRequest request, RequestFromFlags());
  DS_ASSIGN_OR_RETURN(v1::GenerateResponse response, client.Generate(request));
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(response);
    return absl::OkStatus();
  }
  std::cout << response.text() << "\n";
  PrintCompletion(response);
  return absl::OkStatus();
}

absl::Status Stream(const DeltaServeClient& client) {
  DS_ASSIGN_OR_RETURN(v1::GenerateRequest request, RequestFromFlags());
  const bool json = absl::GetFlag(FLAGS_json);
  v1::GenerateStreamResponse last;
  DS_RETURN_IF_ERROR(client.GenerateStream(request, [&](const v1::GenerateStreamResponse& message) {
    if (json) {
      PrintJson(message);
    } else {
      std::cout << message.text() << std::flush;
    }
    last = message;
  }));
  if (!json) {
    std::cout << "\n";
    PrintCompletion(last);
  }
  return absl::OkStatus();
}

absl::Status Tokenize(const DeltaServeClient& client) {
  const absl::optional<std::string> prompt = absl::GetFlag(FLAGS_prompt);
  if (!prompt.has_value()) return absl::InvalidArgumentError("tokenize: give --prompt TEXT");
  v1::TokenizeRequest request;
  request.set_text(*prompt);
  request.set_add_special_tokens(absl::GetFlag(FLAGS_add_special_tokens));
  DS_ASSIGN_OR_RETURN(v1::TokenizeResponse response, client.Tokenize(request));
  PrintJson(response);
  return absl::OkStatus();
}

absl::Status Detokenize(const DeltaServeClient& client) {
  v1::DetokenizeRequest request;
  DS_ASSIGN_OR_RETURN(std::vector<uint32_t> ids, ParseIds(absl::GetFlag(FLAGS_prompt_ids)));
  request.mutable_token_ids()->Add(ids.begin(), ids.end());
  DS_ASSIGN_OR_RETURN(v1::DetokenizeResponse response, client.Detokenize(request));
  std::cout << response.text() << "\n";
  return absl::OkStatus();
}

absl::Status Health(const DeltaServeClient& client) {
  DS_ASSIGN_OR_RETURN(auto status, client.Health());
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(status) << "\n";
  if (status != grpc::health::v1::HealthCheckResponse::SERVING) return absl::UnavailableError("not serving");
  return absl::OkStatus();
}

absl::Status ModelInfo(const DeltaServeClient& client) {
  DS_ASSIGN_OR_RETURN(v1::GetModelInfoResponse response, client.GetModelInfo());
  PrintJson(response);
  return absl::OkStatus();
}

absl::Status RunCommand(const std::string& command, const DeltaServeClient& client) {
  if (command == "generate") return Generate(client);
  if (command == "stream") return Stream(client);
  if (command == "tokenize") return Tokenize(client);
  if (command == "detokenize") return Detokenize(client);
  if (command == "health") return Health(client);
  if (command == "model-info") return ModelInfo(client);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown command '", command, "' (expected generate, stream, tokenize, detokenize, health or model-info)"));
}

absl::Status RunCommandWithFlags(const std::string& command) {
  DS_ASSIGN_OR_RETURN(const ClientSecurity security, ClientSecurityFromFlags());
  const double timeout = absl::GetFlag(FLAGS_timeout);
  const DeltaServeClient client(absl::GetFlag(FLAGS_target),
                                timeout > 0 ? absl::Seconds(timeout) : absl::InfiniteDuration(), security);
  return RunCommand(command, client);
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "deltaserve-cli [--target HOST:PORT] [--tls-ca-file F [--tls-cert-file F --tls-key-file F]] "
      "[--auth-token-file F] (generate|stream|tokenize|detokenize|health|model-info) [flags]");
  const std::vector<std::string> args = ParseDashedCommandLine(argc, argv).positional;
  if (args.size() != 2) {
    std::cerr << "deltaserve-cli: give one command: generate, stream, tokenize, detokenize, health or model-info\n";
    return 2;
  }
  const absl::Status status = RunCommandWithFlags(args[1]);
  if (!status.ok()) {
    std::cerr << "deltaserve-cli: " << absl::StatusCodeToString(status.code()) << ": " << status.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace deltaserve::client

int main(int argc, char** argv) { return deltaserve::client::Run(argc, argv); }
