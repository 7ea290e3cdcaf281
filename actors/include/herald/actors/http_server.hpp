#pragma once
/// Herald's HTTP endpoint (civetweb): /metrics for Prometheus, /healthz and /readyz for
/// Kubernetes probes, on one port. Handlers run on the server's threads and must be
/// thread-safe. The header keeps civetweb out of its includers.

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace herald::actors {

/// What a handler answers.
struct http_response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class http_server {
 public:
  using handler = std::function<http_response()>;

  /// Serves `routes` (exact paths; anything else is 404) on `listen` ("host:port", port 0 =
  /// any free port). Null + `error` on failure.
  [[nodiscard]] static std::unique_ptr<http_server> start(const std::string& listen,
                                                          std::map<std::string, handler> routes,
                                                          std::string& error);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The port actually bound.
  [[nodiscard]] int port() const noexcept { return port_; }

 private:
  http_server() = default;
  struct state;
  std::unique_ptr<state> state_;
  int port_ = 0;
};

}  // namespace herald::actors
