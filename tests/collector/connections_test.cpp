// The collector under connection pressure: 10k idle keep-alive clients and a slow-loris client must
// not stop it from serving everyone else.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "collector_process.hpp"

#include "support/collector_fixture.hpp"
#include "support/http_client.hpp"

using namespace waymark::test;

namespace {

int connect_loopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

// The 10k idle clients live in a child process: each side needs its own 10k descriptors, and a
// test process cannot rely on raising its hard limit (no CAP_SYS_RESOURCE in containers).
TEST_CASE("10k concurrent idle connections: health and ingest still answer", "[collector][connections]") {
  constexpr int kIdle = 10000;
  rlimit lim{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0);
  lim.rlim_cur = lim.rlim_max;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
  INFO("RLIMIT_NOFILE hard limit " << lim.rlim_max << " is too low for " << kIdle << " connections");
  REQUIRE(lim.rlim_max >= static_cast<rlim_t>(kIdle + 512));

  int to_child[2], to_parent[2];
  REQUIRE(::pipe(to_child) == 0);
  REQUIRE(::pipe(to_parent) == 0);
  std::vector<int> fds(kIdle, -1);  // allocated before fork: the child only makes system calls
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    uint16_t port = 0;
    char status = 'R';
    if (::read(to_child[0], &port, sizeof port) != sizeof port) ::_exit(2);
    for (int i = 0; i < kIdle; ++i) {
      fds[static_cast<size_t>(i)] = connect_loopback(port);
      if (fds[static_cast<size_t>(i)] < 0) status = 'F';
    }
    (void)!::write(to_parent[1], &status, 1);
    (void)!::read(to_child[0], &status, 1);  // hold them open until told
    ::_exit(0);
  }
  Collector collector({}, 60000);
  const uint16_t port = collector.server->port();
  REQUIRE(::write(to_child[1], &port, sizeof port) == sizeof port);
  char ready = 0;
  REQUIRE(::read(to_parent[0], &ready, 1) == 1);
  CHECK(ready == 'R');
  const auto start = std::chrono::steady_clock::now();
  CHECK(request(port, http::verb::get, "/healthz").status == 200);
  TempDir dir;
  waymark_client_t* c = nullptr;
  REQUIRE(open_client(dir.store(), collector.client(), &c) == WAYMARK_OK);
  REQUIRE(grant(c, WAYMARK_PURPOSE_ANALYTICS) == WAYMARK_OK);
  REQUIRE(track(c, "busy_day") == WAYMARK_OK);
  CHECK(waymark_client_flush(c, 10000) == WAYMARK_OK);
  CHECK(collector.events() == 2);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  waymark_client_close(c);
  waymark_client_free(c);
  REQUIRE(::write(to_child[1], "x", 1) == 1);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);
}

TEST_CASE("a slow-loris client is cut off at the read deadline while others are served", "[collector][connections]") {
  Collector collector;  // read deadline 500 ms
  const uint16_t port = collector.server->port();
  const int fd = connect_loopback(port);
  REQUIRE(fd >= 0);
  const std::string head = "POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
  REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
  const auto start = std::chrono::steady_clock::now();
  bool cut = false;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    CHECK(request(port, http::verb::get, "/healthz").status == 200);
    if (::send(fd, "x", 1, MSG_NOSIGNAL) != 1) {  // one byte at a time, never finishing
      cut = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(cut);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  ::close(fd);
  CHECK(collector.events() == 0);
}

namespace {

// GET /healthz on a new connection, waiting at most `timeout_s` for the answer; its status line or "".
std::string health_within(uint16_t port, int timeout_s) {
  const int fd = connect_loopback(port);
  if (fd < 0) return "";
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  char buf[256];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ::close(fd);
  const std::string got = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  return got.substr(0, got.find("\r\n"));
}

}  // namespace

// Found by running the real collector with 1,024 descriptors: 2,000 idle connections took them all and
// /healthz could not get in for the whole read timeout. The cap now fits the limit, and connections
// beyond it get one short answer.
TEST_CASE("a collector with 1,024 descriptors and 2,000 idle connections still answers /healthz",
          "[collector][connections]") {
  constexpr int kIdle = 2000;
  rlimit lim{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0);
  lim.rlim_cur = lim.rlim_max;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
  REQUIRE(lim.rlim_max >= static_cast<rlim_t>(kIdle + 256));
  TempDir dir;
  const std::string bin = WAYMARK_COLLECTOR_BIN;
  demo::CollectorProcess::generate_keys(bin, dir.path());
  demo::CollectorProcess server(
      "/bin/sh", {"-c", "ulimit -n 1024 && exec \"$0\" serve --data-dir \"$1\" --port 0", bin, dir.path()},
      dir.path() + "/collector.log");
  std::vector<int> idle;
  for (int i = 0; i < kIdle; ++i) idle.push_back(connect_loopback(server.port()));
  CHECK(std::count(idle.begin(), idle.end(), -1) == 0);
  CHECK(health_within(server.port(), 10) == "HTTP/1.1 200 OK");
  const Reply over = request(server.port(), http::verb::post, "/v1/batches", std::vector<uint8_t>(64, 1));
  CHECK(over.status == 503);  // beyond the cap: come back later
  CHECK(over.retry_after == "1");
  for (int fd : idle) ::close(fd);
  CHECK(health_within(server.port(), 10) == "HTTP/1.1 200 OK");
  std::ifstream log(dir.path() + "/collector.log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK(text.find("(HTTP, at most 896 connections, role all)") != std::string::npos);  // 1,024 less 128 kept spare
}
