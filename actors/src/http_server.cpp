#include "herald/actors/http_server.hpp"

#include <string_view>

#include <civetweb.h>

namespace herald::actors {

struct http_server::state {
  std::map<std::string, handler> routes;
  mg_context* ctx = nullptr;
};

namespace {

int serve(mg_connection* conn, void* cbdata) {
  const auto& routes = *static_cast<const std::map<std::string, http_server::handler>*>(cbdata);
  const mg_request_info* req = mg_get_request_info(conn);
  http_response res;
  const auto it = routes.find(req->local_uri != nullptr ? req->local_uri : "");
  if (it == routes.end()) {
    res.status = 404;
    res.body = "not found\n";
  } else if (std::string_view(req->request_method) != "GET" &&
             std::string_view(req->request_method) != "HEAD") {
    res.status = 405;
    res.body = "method not allowed\n";
  } else {
    res = it->second();
  }
  mg_response_header_start(conn, res.status);
  mg_response_header_add(conn, "Content-Type", res.content_type.c_str(), -1);
  mg_response_header_add(conn, "Content-Length", std::to_string(res.body.size()).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  mg_response_header_send(conn);
  if (std::string_view(req->request_method) != "HEAD")
    mg_write(conn, res.body.data(), res.body.size());
  return res.status;
}

}  // namespace

std::unique_ptr<http_server> http_server::start(const std::string& listen,
                                                std::map<std::string, handler> routes,
                                                std::string& error) {
  static const unsigned init = mg_init_library(0);
  (void)init;
  std::unique_ptr<http_server> s(new http_server());
  s->state_ = std::make_unique<state>();
  s->state_->routes = std::move(routes);
  const char* options[] = {"listening_ports", listen.c_str(), "num_threads", "4", nullptr};
  mg_callbacks callbacks{};
  s->state_->ctx = mg_start(&callbacks, nullptr, options);
  if (s->state_->ctx == nullptr) {
    error = "http: cannot listen on '" + listen + "'";
    return nullptr;
  }
  mg_set_request_handler(s->state_->ctx, "/", serve, &s->state_->routes);
  mg_server_port ports[4]{};
  if (mg_get_server_ports(s->state_->ctx, 4, ports) > 0) s->port_ = ports[0].port;
  return s;
}

http_server::~http_server() {
  if (state_ && state_->ctx != nullptr) mg_stop(state_->ctx);
}

}  // namespace herald::actors
