#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/listen_address.h"

namespace httplib {
class Server;
}

namespace deltaserve::server {

// GET /metrics over cpp-httplib (not prometheus-cpp's civetweb Exposer: DESIGN.md says
// why), answered with whatever `render` returns at that moment.
class MetricsHttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const ListenAddress& address,
                                                                  std::function<std::string()> render);
  ~MetricsHttpServer();  // stops serving and joins the thread

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;

  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace deltaserve::server
