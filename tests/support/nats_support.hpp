// A private `nats-server` with JetStream for a test: on 127.0.0.1, a free port, its store in a temp
// directory; stopped (SIGTERM, or SIGKILL to simulate a crash) by the test or the destructor.
#pragma once

#include <sys/types.h>

#include <string>

namespace waymark::test {

class NatsServer {
 public:
  explicit NatsServer(std::string dir);  // starts it; throws std::runtime_error when it does not listen
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  void stop(int signal = 15);
  void start();  // again, on the same port and store (after stop)
  bool running() const { return pid_ > 0; }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace waymark::test
