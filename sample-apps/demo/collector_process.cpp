#include "collector_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace demo {

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string run_capture(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run: " + command);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (pclose(p) != 0) throw std::runtime_error("command failed: " + command);
  return out;
}

std::array<uint8_t, 32> CollectorProcess::generate_keys(const std::string& binary, const std::string& data_dir) {
  const std::string out =
      run_capture(shell_quote(binary) + " keys generate --key-id 1 --data-dir " + shell_quote(data_dir));
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("public_key=([0-9a-f]{64})"))) {
    throw std::runtime_error("keys generate printed no public key");
  }
  std::array<uint8_t, 32> key{};
  for (size_t i = 0; i < 32; ++i) key[i] = static_cast<uint8_t>(std::stoi(m[1].str().substr(2 * i, 2), nullptr, 16));
  return key;
}

void CollectorProcess::blocklist(const std::string& binary, const std::string& brand_key_file, uint32_t epoch,
                                 const std::string& junk_file, const std::string& out_file) {
  run_capture(shell_quote(binary) + " blocklist --default-region GB --brand-key-file " + shell_quote(brand_key_file) +
              " --key-epoch " + std::to_string(epoch) + " < " + shell_quote(junk_file) + " > " + shell_quote(out_file) +
              " 2>/dev/null");
}

std::string CollectorProcess::authority_keygen(const std::string& binary, const std::string& key_file) {
  const std::string out = run_capture(shell_quote(binary) + " authority keygen --key-file " + shell_quote(key_file));
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("authority_public_key=([0-9a-f]{64})"))) {
    throw std::runtime_error("authority keygen printed no public key");
  }
  return m[1].str();
}

std::vector<uint8_t> CollectorProcess::erasure_token(const std::string& binary, const std::string& key_file,
                                                     const std::string& brand_key_file, uint32_t epoch,
                                                     const std::string& identities_file) {
  const std::string out =
      run_capture(shell_quote(binary) + " authority erasure-token --default-region GB --key-file " +
                  shell_quote(key_file) + " --brand-key-file " + shell_quote(brand_key_file) + " --key-epoch " +
                  std::to_string(epoch) + " < " + shell_quote(identities_file) + " 2>/dev/null");
  std::vector<uint8_t> token;
  for (size_t i = 0; i + 1 < out.size() && out[i] != '\n'; i += 2) {
    token.push_back(static_cast<uint8_t>(std::stoi(out.substr(i, 2), nullptr, 16)));
  }
  if (token.empty()) throw std::runtime_error("authority erasure-token printed no token");
  return token;
}

CollectorProcess::CollectorProcess(const std::string& binary, const std::vector<std::string>& args,
                                   const std::string& log_file, bool wait)
    : log_file_(log_file) {
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + binary);
  if (wait) wait_listening();
}

bool CollectorProcess::listening() {
  if (port_ != 0) return true;
  std::ifstream in(log_file_);
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::smatch m;
  if (!std::regex_search(log, m, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"))) return false;
  port_ = static_cast<uint16_t>(std::stoi(m[1].str()));
  return true;
}

bool CollectorProcess::exited() {
  int status = 0;
  if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
  return pid_ < 0;
}

void CollectorProcess::wait_listening(int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (listening()) return;
    if (exited()) {
      std::ifstream in(log_file_);
      throw std::runtime_error("the collector exited at start:\n" +
                               std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop();
  throw std::runtime_error("the collector did not start listening within " + std::to_string(seconds) + " s");
}

CollectorProcess::~CollectorProcess() {
  stop();
}

int CollectorProcess::stop(int signal) {
  if (pid_ < 0) return -1;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

PrivatePostgres::PrivatePostgres(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) return;
  run_capture(shell_quote(WAYMARK_PRIVATE_POSTGRES) + " start " + shell_quote(dir_));
  std::ifstream in(dir_ + "/conninfo");  // host=DIR port=N user=waymark
  std::string host, port, user;
  in >> host >> port >> user;
  uri_ = "postgresql:///postgres?" + host + "&" + port + "&" + user;
}

PrivatePostgres::~PrivatePostgres() {
  if (dir_.empty()) return;
  try {
    run_capture(shell_quote(WAYMARK_PRIVATE_POSTGRES) + " stop " + shell_quote(dir_));
  } catch (const std::exception&) {  // already reported by the script; nothing more to do on the way out
  }
}

void PrivatePostgres::halt() {
  if (!dir_.empty()) run_capture(shell_quote(WAYMARK_PRIVATE_POSTGRES) + " halt " + shell_quote(dir_));
}

void PrivatePostgres::restart() {
  if (!dir_.empty()) run_capture(shell_quote(WAYMARK_PRIVATE_POSTGRES) + " restart " + shell_quote(dir_));
}

}  // namespace demo
