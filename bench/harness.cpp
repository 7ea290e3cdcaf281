#include "harness.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "herald/actors/demo.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/topic_reader.hpp"

namespace herald::bench {

namespace fs = std::filesystem;

void say(const std::string& what) {
  static const auto start = clock_type::now();
  const double s = std::chrono::duration<double>(clock_type::now() - start).count();
  fmt::print("[{:7.1f} s] {}\n", s, what);
  std::fflush(stdout);
}

std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  for (std::size_t p = 0; p <= list.size();) {
    const std::size_t c = std::min(list.find(',', p), list.size());
    if (c > p) out.push_back(list.substr(p, c - p));
    p = c + 1;
  }
  return out;
}

std::vector<std::string> stat_fields(int pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string line;
  std::vector<std::string> out;
  if (!std::getline(f, line)) return out;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return out;
  out.resize(3);  // fields 1 (pid) and 2 (comm) are not needed
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  while (rest >> field) out.push_back(field);
  return out;
}

std::vector<int> process_tree(int root) {
  std::map<int, std::vector<int>> children;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const int pid = std::atoi(name.c_str());
    const auto f = stat_fields(pid);
    if (f.size() > 4) children[std::atoi(f[4].c_str())].push_back(pid);
  }
  std::vector<int> out = {root};
  for (std::size_t i = 0; i < out.size(); ++i)
    for (const int c : children[out[i]]) out.push_back(c);
  return out;
}

double tree_cpu_seconds(int root) {
  static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double ticks = 0;
  for (const int pid : process_tree(root)) {
    const auto f = stat_fields(pid);
    if (f.size() <= 17) continue;
    ticks += std::atof(f[14].c_str()) + std::atof(f[15].c_str()) + std::atof(f[16].c_str()) +
             std::atof(f[17].c_str());
  }
  return ticks / tick;
}

namespace {

// The sum over `root`'s process tree of a /proc/PID/status field in kB ("VmRSS:"), in MiB.
double tree_status_mib(int root, std::string_view field) {
  double kib = 0;
  for (const int pid : process_tree(root)) {
    std::ifstream f(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(f, line))
      if (line.starts_with(field)) kib += std::atof(line.c_str() + field.size());
  }
  return kib / 1024.0;
}

}  // namespace

double tree_peak_rss_mib(int root) {
  return tree_status_mib(root, "VmHWM:");
}

double tree_rss_mib(int root) {
  return tree_status_mib(root, "VmRSS:");
}

rk_ptr make_client(rd_kafka_type_t type, const kafka_properties& props, std::string& error) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : props)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      error = fmt::format("property {}: {}", k, err);
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (rk == nullptr) {
    error = err;
    rd_kafka_conf_destroy(conf);
  }
  return rk_ptr(rk);
}

bool scan_topic(const std::string& bootstrap, const std::string& topic,
                const std::function<void(std::string_view)>& fn, std::string& error,
                int timeout_ms) {
  auto rk = make_client(RD_KAFKA_CONSUMER,
                        {{"bootstrap.servers", bootstrap},
                         {"group.id", "bench-compare-reader"},  // never joined (assign only)
                         {"enable.auto.commit", "false"},
                         {"enable.partition.eof", "true"},
                         {"isolation.level", "read_committed"}},
                        error);
  if (!rk) return false;
  rd_kafka_poll_set_consumer(rk.get());
  const int partitions =
      herald::streams::partition_count({{"bootstrap.servers", bootstrap}}, topic, error);
  if (partitions < 0) return false;
  list_ptr list(rd_kafka_topic_partition_list_new(partitions));
  for (int i = 0; i < partitions; ++i)
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), i)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk.get(), list.get());
  const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<bool> at_eof(static_cast<std::size_t>(partitions), false);
  int eofs = 0;
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk.get());
  std::vector<rd_kafka_message_t*> msgs(5000);
  while (eofs < partitions && clock_type::now() < deadline) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 200, msgs.data(), msgs.size());
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs[static_cast<std::size_t>(i)];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        auto seen = at_eof[static_cast<std::size_t>(m->partition)];
        if (!seen) ++eofs;
        at_eof[static_cast<std::size_t>(m->partition)] = true;
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        fn(m->payload != nullptr ? std::string_view(static_cast<const char*>(m->payload), m->len)
                                 : std::string_view());
      }
      rd_kafka_message_destroy(m);
    }
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(rk.get());
  if (eofs < partitions) {
    error = "timed out reading " + topic;
    return false;
  }
  return true;
}

std::vector<std::string> topics_named(const std::string& bootstrap, const std::string& prefix,
                                      const std::string& suffix) {
  std::map<std::string, int> all;
  std::string error;
  std::vector<std::string> out;
  if (!herald::streams::partition_counts({{"bootstrap.servers", bootstrap}}, all, error))
    return out;
  for (const auto& [name, n] : all)
    if (name.rfind(prefix, 0) == 0 && name.size() >= prefix.size() + suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(name);
  return out;
}

kafka_cluster::~kafka_cluster() {
  if (!started_) return;
  say("stopping the Kafka cluster in " + dir_);
  (void)shell(command() + " stop");
}

std::string kafka_cluster::command() const {
  return "HERALD_KAFKA_DIR=" + shell_quote(dir_) + " " +
         shell_quote(HERALD_SOURCE_DIR "/scripts/kafka");
}

std::string kafka_cluster::bootstrap(std::string& error) {
  if (shell(command() + " status").first != 0) {
    say("starting a 1-node Kafka cluster in " + dir_);
    auto [code, out] =
        shell(command() + " start --nodes 1 --partitions " + std::to_string(partitions_));
    if (code != 0) {
      error = "cannot start Kafka: " + out;
      return {};
    }
    started_ = true;
  } else {
    say("using the Kafka cluster running in " + dir_);
  }
  auto [code, out] = shell(command() + " bootstrap");
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (code != 0 || out.empty()) {
    error = "no bootstrap address from scripts/kafka: " + out;
    return {};
  }
  return out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
}

std::string herald_config(const std::string& bootstrap, const std::string& group,
                          const std::string& mode, const std::string& state,
                          const herald::actors::topics_config& t,
                          const std::string& metrics_listen) {
  std::string y = fmt::format(
      "kafka:\n  group_id: '{}'\n  properties: {{bootstrap.servers: '{}'}}\n", group, bootstrap);
  y += fmt::format("processing: {{guarantee: {}}}\n", mode);
  y += fmt::format("state: {{dir: '{}'}}\n", state);
  y += fmt::format("metrics: {{listen: '{}'}}\n", metrics_listen);
  return y + herald::actors::topics_yaml(t);
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

std::pair<int, std::string> http_get(int port, const std::string& path, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {-1, {}};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      const auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
      char buf[65536];
      for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now())
                .count();
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) break;
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        response.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  // "HTTP/1.x NNN ..."; the body after the blank line.
  const auto sp = response.find(' ');
  const auto head_end = response.find("\r\n\r\n");
  if (sp == std::string::npos || head_end == std::string::npos) return {-1, {}};
  return {std::atoi(response.c_str() + sp + 1), response.substr(head_end + 4)};
}

double metric_sum(std::string_view scrape, std::string_view name) {
  double sum = 0;
  bool found = false;
  std::size_t p = 0;
  while (p < scrape.size()) {
    std::size_t e = scrape.find('\n', p);
    if (e == std::string_view::npos) e = scrape.size();
    const std::string_view line = scrape.substr(p, e - p);
    p = e + 1;
    if (line.size() <= name.size() || line.substr(0, name.size()) != name) continue;
    const char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    const auto sp = line.rfind(' ');
    sum += std::strtod(std::string(line.substr(sp + 1)).c_str(), nullptr);
    found = true;
  }
  return found ? sum : -1;
}

}  // namespace herald::bench
