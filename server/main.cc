// deltaserve: the gRPC server. Loads one model, serves GenerateService, health and
// reflection, exports /metrics, and drains on SIGTERM / SIGINT.

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "engine/runtime/model_source.h"
#include "engine/util/command_line.h"
#include "engine/util/status_macros.h"
#include "server/deltaserve_server.h"

ABSL_FLAG(std::string, model, "", "Hugging Face model directory (config.json, safetensors, tokenizer.json)");
ABSL_FLAG(bool, demo_model, false, "serve the built-in demo model (random weights) instead of --model");
ABSL_FLAG(std::string, load_format, "auto", "auto|safetensors: the checkpoint's weights; dummy: seeded random ones");
ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "gRPC address host:port (port 0: any free port)");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate chain: serve gRPC over TLS (with --tls-key-file)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls-cert-file");
ABSL_FLAG(std::string, tls_client_ca_file, "", "PEM CA: require client certificates it signed (mTLS)");
ABSL_FLAG(std::string, auth_token_file, "",
          "file holding a bearer token every GenerateService call must send as 'authorization: Bearer <token>'");
ABSL_FLAG(std::string, health_listen, "", "extra plaintext address host:port serving only grpc.health.v1 (probes)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9090", "HTTP address of /metrics, host:port (port 0: any)");
ABSL_FLAG(int64_t, max_num_seqs, 64, "sequences in one engine step at most");
ABSL_FLAG(int64_t, max_num_batched_tokens, 2048, "tokens in one engine step at most (longer prompts are chunked)");
ABSL_FLAG(int64_t, max_model_len, 0, "longest prompt plus output (0: the model's max_position_embeddings)");
ABSL_FLAG(std::string, device, "cpu", "where the model runs: cpu (float32) or cuda (bf16, needs a CUDA build)");
ABSL_FLAG(double, gpu_memory_utilization, 0.9,
          "share of the GPU's memory the engine may take; the KV cache gets what the weights and a forward pass "
          "leave (--device cuda, when --kv-cache-bytes is 0)");
ABSL_FLAG(bool, enforce_eager, false, "--device cuda: run decode steps eagerly, without CUDA graphs");
ABSL_FLAG(bool, async_scheduling, true,
          "--device cuda: queue a plain-greedy decode step before the previous step's tokens reach the host, so that "
          "the host's work between steps overlaps the GPU's (the CPU runs each step as it is queued: not used there)");
ABSL_FLAG(int64_t, kv_cache_bytes, 0,
          "memory for the paged KV cache, in bytes (0: 1 GiB on the CPU, from --gpu-memory-utilization on CUDA)");
ABSL_FLAG(int64_t, block_size, 16, "tokens per KV-cache block");
ABSL_FLAG(int64_t, max_queue, 256, "requests that may wait for the engine; more are RESOURCE_EXHAUSTED");
ABSL_FLAG(double, drain_timeout, 30, "seconds to let running requests finish on SIGTERM before cancelling them");
ABSL_FLAG(int32_t, max_receive_message_bytes, 4 << 20, "larger gRPC requests are refused");
ABSL_FLAG(int64_t, max_tokens, 256, "default max_tokens of a request");
ABSL_FLAG(double, temperature, 1.0, "default sampling temperature (0: greedy)");
ABSL_FLAG(double, top_p, 1.0, "default top_p");
ABSL_FLAG(int32_t, top_k, -1, "default top_k (-1: off)");
ABSL_FLAG(double, min_p, 0.0, "default min_p");
ABSL_FLAG(double, repetition_penalty, 1.0, "default repetition penalty (1: off)");
ABSL_FLAG(double, presence_penalty, 0.0, "default presence penalty");
ABSL_FLAG(double, frequency_penalty, 0.0, "default frequency penalty");
ABSL_FLAG(std::string, attention_mode, "delta", "default prefill attention: dense|sparse|recompute|delta");
ABSL_FLAG(int64_t, window, 2048, "default sliding window of sparse prefill attention");
ABSL_FLAG(int64_t, sink, 1024, "default sink tokens of sparse prefill attention");
ABSL_FLAG(int64_t, lambda, 64, "default delta-attention anchor spacing");
ABSL_FLAG(std::string, dense_layers, "", "layers whose prefill is always dense, comma-separated (e.g. 0,1)");
ABSL_FLAG(double, probe_fraction, 0.0, "default share of anchor groups that measure the remaining error");
ABSL_FLAG(std::string, torch_profile_dir, "",
          "write a Kineto trace of chosen engine steps that carry prompt tokens to DIR/step-<n>.json (empty: off; "
          "decode steps instead with --torch-profile-decode)");
ABSL_FLAG(int64_t, torch_profile_first_step, 0, "the first step of the traced kind to trace, counting from 0");
ABSL_FLAG(int64_t, torch_profile_steps, 8, "steps of the traced kind to trace from --torch-profile-first-step on");
ABSL_FLAG(bool, torch_profile_decode, false,
          "trace decode steps (CUDA-graph replays included) instead, to DIR/decode-step-<n>.json");

namespace deltaserve::server {
namespace {

absl::StatusOr<ServerOptions> ServerOptionsFromFlags() {
  ServerOptions options;
  DS_ASSIGN_OR_RETURN(options.listen, ParseListenAddress(absl::GetFlag(FLAGS_listen), "listen"));
  DS_ASSIGN_OR_RETURN(options.metrics_listen, ParseListenAddress(absl::GetFlag(FLAGS_metrics_listen), "metrics-listen"));
  const std::string health_listen = absl::GetFlag(FLAGS_health_listen);
  if (!health_listen.empty()) {
    DS_ASSIGN_OR_RETURN(options.health_listen, ParseListenAddress(health_listen, "health-listen"));
  }
  SecurityFiles files;
  files.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  files.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  files.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  files.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  DS_ASSIGN_OR_RETURN(options.security, LoadServerSecurity(files));
  options.max_receive_message_bytes = absl::GetFlag(FLAGS_max_receive_message_bytes);
  return options;
}

absl::StatusOr<ModelOptions> ModelOptionsFromFlags() {
  ModelOptions options;
  options.engine.max_num_seqs = absl::GetFlag(FLAGS_max_num_seqs);
  options.engine.max_num_batched_tokens = absl::GetFlag(FLAGS_max_num_batched_tokens);
  options.engine.max_model_len = absl::GetFlag(FLAGS_max_model_len);
  DS_ASSIGN_OR_RETURN(options.engine.device, ParseComputeDevice(absl::GetFlag(FLAGS_device), "--device"));
  options.engine.gpu_memory_utilization = absl::GetFlag(FLAGS_gpu_memory_utilization);
  DS_RETURN_IF_ERROR(ValidateGpuMemoryUtilization(options.engine.gpu_memory_utilization, "--gpu-memory-utilization"));
  options.engine.enforce_eager = absl::GetFlag(FLAGS_enforce_eager);
  options.engine.async_scheduling =
      absl::GetFlag(FLAGS_async_scheduling) && options.engine.device == ComputeDevice::kCuda;
  options.engine.kv_cache_bytes = absl::GetFlag(FLAGS_kv_cache_bytes);
  options.engine.block_size = absl::GetFlag(FLAGS_block_size);
  DS_ASSIGN_OR_RETURN(options.engine.dense_layers,
                      ParseIntegerList(absl::GetFlag(FLAGS_dense_layers), "--dense-layers", "layer index"));
  options.engine.torch_profile = {absl::GetFlag(FLAGS_torch_profile_dir),
                                  absl::GetFlag(FLAGS_torch_profile_first_step),
                                  absl::GetFlag(FLAGS_torch_profile_steps),
                                  absl::GetFlag(FLAGS_torch_profile_decode)};
  DS_RETURN_IF_ERROR(ValidateTorchProfile(options.engine.torch_profile, FieldNames::kFlags));
  options.max_queue = absl::GetFlag(FLAGS_max_queue);
  if (options.max_queue < 1) return absl::InvalidArgumentError("--max-queue: must be >= 1");

  SamplingParams& sampling = options.default_sampling;
  sampling.max_tokens = absl::GetFlag(FLAGS_max_tokens);
  sampling.temperature = static_cast<float>(absl::GetFlag(FLAGS_temperature));
  sampling.top_p = static_cast<float>(absl::GetFlag(FLAGS_top_p));
  sampling.top_k = absl::GetFlag(FLAGS_top_k);
  sampling.min_p = static_cast<float>(absl::GetFlag(FLAGS_min_p));
  sampling.repetition_penalty = static_cast<float>(absl::GetFlag(FLAGS_repetition_penalty));
  sampling.presence_penalty = static_cast<float>(absl::GetFlag(FLAGS_presence_penalty));
  sampling.frequency_penalty = static_cast<float>(absl::GetFlag(FLAGS_frequency_penalty));

  AttentionConfig& attention = options.default_attention;
  DS_ASSIGN_OR_RETURN(attention.mode, ParseAttentionMode(absl::GetFlag(FLAGS_attention_mode)));
  attention.window = absl::GetFlag(FLAGS_window);
  attention.sink = absl::GetFlag(FLAGS_sink);
  attention.lambda = absl::GetFlag(FLAGS_lambda);
  attention.probe_fraction = absl::GetFlag(FLAGS_probe_fraction);
  DS_RETURN_IF_ERROR(ValidateAttentionConfig(attention, "--"));
  return options;
}

const char* TransportName(const ServerSecurity& security) {
  if (!security.tls()) return "plaintext";
  return security.client_ca_pem.empty() ? "TLS" : "mTLS";
}

int Fail(const absl::Status& status) {
  std::cerr << "deltaserve: " << status.message() << "\n";
  return 1;
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage("deltaserve (--model DIR | --demo-model) [--listen HOST:PORT] [--metrics-listen "
                               "HOST:PORT] [--tls-cert-file F --tls-key-file F [--tls-client-ca-file F]] "
                               "[--health-listen HOST:PORT] [--auth-token-file F] [--max-num-seqs N] ...");
  ParseDashedCommandLine(argc, argv);
  // Blocked before any thread starts, so that every thread inherits the mask and the
  // signals wait for sigwait below (also while the model loads).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<ServerOptions> server_options = ServerOptionsFromFlags();
  if (!server_options.ok()) return Fail(server_options.status());
  absl::StatusOr<ModelOptions> model_options = ModelOptionsFromFlags();
  if (!model_options.ok()) return Fail(model_options.status());
  absl::StatusOr<std::unique_ptr<DeltaServer>> server = DeltaServer::Start(*server_options);
  if (!server.ok()) return Fail(server.status());
  std::fprintf(stderr, "deltaserve: gRPC on %s:%d, metrics on http://%s:%d/metrics; loading the model\n",
               server_options->listen.host.c_str(), (*server)->grpc_port(),
               server_options->metrics_listen.host.c_str(), (*server)->metrics_port());
  std::fprintf(stderr, "deltaserve: gRPC over %s, %s\n", TransportName(server_options->security),
               server_options->security.auth_token.empty() ? "no bearer token" : "bearer token required");
  if (server_options->health_listen.has_value()) {
    std::fprintf(stderr, "deltaserve: plaintext health on %s:%d\n", server_options->health_listen->host.c_str(),
                 (*server)->health_port());
  }

  absl::StatusOr<ModelSource> source = LoadModelSourceFromFlags(
      absl::GetFlag(FLAGS_model), absl::GetFlag(FLAGS_demo_model), absl::GetFlag(FLAGS_load_format));
  if (!source.ok()) return Fail(source.status());
  const std::string description = source->description;
  for (const std::string& warning : source->warnings) std::cerr << "deltaserve: warning: " << warning << "\n";
  const absl::Status loaded = (*server)->LoadModel(*std::move(source), *model_options);
  if (!loaded.ok()) return Fail(loaded);
  std::cerr << "deltaserve: serving " << description << "\n";

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  const double drain_seconds = absl::GetFlag(FLAGS_drain_timeout);
  std::fprintf(stderr, "deltaserve: %s: draining for up to %.1f s\n", strsignal(signal_number), drain_seconds);
  (*server)->Drain(absl::Seconds(drain_seconds));
  std::cerr << "deltaserve: stopped\n";
  return 0;
}

}  // namespace
}  // namespace deltaserve::server

int main(int argc, char** argv) { return deltaserve::server::Run(argc, argv); }
