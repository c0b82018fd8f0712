#include "server/metrics_http_server.h"

#include <utility>

#include <httplib.h>

#include "absl/strings/str_cat.h"

namespace deltaserve::server {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const ListenAddress& address,
                                                                           std::function<std::string()> render) {
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->http_ = std::make_unique<httplib::Server>();
  server->http_->Get("/metrics", [render = std::move(render)](const httplib::Request&, httplib::Response& response) {
    response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  if (address.port == 0) {
    server->port_ = server->http_->bind_to_any_port(address.host);
  } else if (server->http_->bind_to_port(address.host, address.port)) {
    server->port_ = address.port;
  }
  if (server->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", address.host, ":", address.port, " (in use or not local?)"));
  }
  httplib::Server* http = server->http_.get();
  server->thread_ = std::thread([http] { http->listen_after_bind(); });
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace deltaserve::server
