// `waymark-collector` started as a child process on 127.0.0.1 (any free port), with its store and logs
// in a work directory, stopped with SIGTERM. Used by the demo and by the soak (tests/reliability).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace demo {

class CollectorProcess {
 public:
  // Generates the collector's keys in data_dir (keys generate) and returns its public key.
  static std::array<uint8_t, 32> generate_keys(const std::string& binary, const std::string& data_dir);
  // Turns the brand's junk values ("<kind> <value>" lines) into blocked pseudonyms (blocklist).
  static void blocklist(const std::string& binary, const std::string& brand_key_file, uint32_t epoch,
                        const std::string& junk_file, const std::string& out_file);

  // The brand's authority key (`authority keygen` into `key_file`); returns its public key in hex.
  static std::string authority_keygen(const std::string& binary, const std::string& key_file);
  // An erasure token for the identifiers in `identities_file` ("<kind> <value>" lines), as the brand's
  // backend issues one once the customer has signed in (`authority erasure-token`).
  static std::vector<uint8_t> erasure_token(const std::string& binary, const std::string& key_file,
                                            const std::string& brand_key_file, uint32_t epoch,
                                            const std::string& identities_file);

  // Waits until it listens (its port is then known), unless `wait` is false (a standby merger, which
  // listens only once it takes over).
  CollectorProcess(const std::string& binary, const std::vector<std::string>& args, const std::string& log_file,
                   bool wait = true);
  ~CollectorProcess();
  uint16_t port() const { return port_; }
  // Waits until it listens, up to `seconds` (a standby: until it took over); throws when it exited.
  void wait_listening(int seconds = 30);
  // Whether it listens now (its port is then known), without waiting.
  bool listening();
  // Whether it has exited (reaped here; stop() then answers -1).
  bool exited();
  int stop(int signal = 15);  // SIGTERM (or `signal`, e.g. SIGKILL), waits; the exit code (128 + signal if killed)

 private:
  std::string log_file_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

std::string run_capture(const std::string& command);  // /bin/sh -c, stdout; throws on a non-zero exit
std::string shell_quote(const std::string& s);

// A private PostgreSQL server in `dir` (scripts/private-postgres.sh), for `--store postgresql`: started
// by the constructor (nothing when `dir` is empty), stopped and removed by the destructor.
class PrivatePostgres {
 public:
  explicit PrivatePostgres(std::string dir);
  ~PrivatePostgres();
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;
  // The collector's `--store` for it ("" when none).
  const std::string& uri() const { return uri_; }
  const std::string& dir() const { return dir_; }
  // Stops the server, its files kept (every buffer written out, for a scan).
  void halt();
  // Stops and starts it again on the same files and port (every connection to it is cut).
  void restart();

 private:
  std::string dir_, uri_;
};

}  // namespace demo
