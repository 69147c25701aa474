// POSIX platform table: keys as 0600 files under <store>/keys, clock_gettime clocks.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "waymark/platform.h"

namespace {

bool valid_name(const char* name) {
  if (name == nullptr || *name == '\0') return false;
  for (const char* p = name; *p != '\0'; ++p) {
    const char c = *p;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;  // no '/', no '..': a key name can never escape the key folder
  }
  return true;
}

std::string key_dir(const char* scope) {
  return std::string(scope) + "/keys";
}

bool write_all(int fd, const uint8_t* data, size_t len) {
  while (len > 0) {
    const ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

int32_t keystore_get(const char* scope, const char* name, uint8_t* out, size_t capacity, size_t* out_len, void*) {
  if (scope == nullptr || !valid_name(name) || out_len == nullptr) return WAYMARK_PLATFORM_ERROR;
  const std::string path = key_dir(scope) + "/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? WAYMARK_PLATFORM_NOT_FOUND : WAYMARK_PLATFORM_ERROR;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 0) {
    ::close(fd);
    return WAYMARK_PLATFORM_ERROR;
  }
  const auto size = static_cast<size_t>(st.st_size);
  *out_len = size;
  size_t done = 0;
  const size_t want = size < capacity ? size : capacity;
  while (done < want) {
    const ssize_t n = ::read(fd, out + done, want - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return WAYMARK_PLATFORM_ERROR;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return WAYMARK_PLATFORM_OK;
}

int32_t keystore_put(const char* scope, const char* name, const uint8_t* key, size_t len, void*) {
  if (scope == nullptr || !valid_name(name) || (key == nullptr && len > 0)) return WAYMARK_PLATFORM_ERROR;
  const std::string dir = key_dir(scope);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return WAYMARK_PLATFORM_ERROR;
  const std::string path = dir + "/" + name;
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".tmp%08x", randombytes_random());
  const std::string tmp = path + suffix;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return WAYMARK_PLATFORM_ERROR;
  const bool ok = write_all(fd, key, len) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return WAYMARK_PLATFORM_ERROR;
  }
  fsync_dir(dir);
  return WAYMARK_PLATFORM_OK;
}

int32_t keystore_delete(const char* scope, const char* name, void*) {
  if (scope == nullptr || !valid_name(name)) return WAYMARK_PLATFORM_ERROR;
  const std::string path = key_dir(scope) + "/" + name;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return WAYMARK_PLATFORM_ERROR;
  fsync_dir(key_dir(scope));
  return WAYMARK_PLATFORM_OK;
}

int64_t clock_ms(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t wall_ms(void*) {
  return clock_ms(CLOCK_REALTIME);
}
int64_t monotonic_ms(void*) {
  return clock_ms(CLOCK_MONOTONIC);
}

int32_t random_bytes(uint8_t* out, size_t len, void*) {
  randombytes_buf(out, len);
  return WAYMARK_PLATFORM_OK;
}

int32_t threshold_from_env() {
  const char* v = std::getenv("WAYMARK_LOG_LEVEL");
  if (v == nullptr) return WAYMARK_LOG_WARNING;
  if (std::strcmp(v, "debug") == 0) return WAYMARK_LOG_DEBUG;
  if (std::strcmp(v, "info") == 0) return WAYMARK_LOG_INFO;
  if (std::strcmp(v, "error") == 0) return WAYMARK_LOG_ERROR;
  return WAYMARK_LOG_WARNING;
}

void log_stderr(int32_t level, const char* message, size_t len, void*) {
  static const int32_t threshold = threshold_from_env();
  if (level < threshold) return;
  static const char* const kNames[] = {"debug", "info", "warning", "error"};
  const char* lvl = (level >= 0 && level <= 3) ? kNames[level] : "log";
  std::fprintf(stderr, "waymark %s: %.*s\n", lvl, static_cast<int>(len), message);
}

int32_t reachability_unknown(void*) {
  return -1;
}

// The first line of a small text file, or "" (board model files end in NUL, DMI ones in a newline).
std::string first_line(const char* path) {
  char buf[256] = {};
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::string s(buf, n);
  s = s.substr(0, s.find_first_of(std::string("\n\0", 2)));
  return s;
}

std::string describe(int32_t what) {
  utsname u{};
  if (uname(&u) != 0) return {};
  switch (what) {
    case WAYMARK_DEVICE_OS_NAME: {
      std::string name = u.sysname;
      for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      return name;
    }
    case WAYMARK_DEVICE_OS_VERSION: return u.release;
    case WAYMARK_DEVICE_MODEL:
      for (const char* path : {"/proc/device-tree/model", "/sys/devices/virtual/dmi/id/product_name"}) {
        if (std::string model = first_line(path); !model.empty()) return model;
      }
      return u.machine;
    default: return {};
  }
}

int32_t device_info(int32_t what, char* out, size_t capacity, size_t* out_len, void*) {
  const std::string s = describe(what);
  if (s.empty() || out_len == nullptr) return WAYMARK_PLATFORM_NOT_FOUND;
  if (out != nullptr) std::memcpy(out, s.data(), std::min(capacity, s.size()));
  *out_len = s.size();
  return WAYMARK_PLATFORM_OK;
}

}  // namespace

extern "C" int32_t waymark_platform_posix(waymark_platform_t* out) {
  if (out == nullptr) return -1;
  *out = waymark_platform_t{};
  out->version = WAYMARK_PLATFORM_VERSION;
  out->keystore_get = keystore_get;
  out->keystore_put = keystore_put;
  out->keystore_delete = keystore_delete;
  out->clock_wall_ms = wall_ms;
  out->clock_monotonic_ms = monotonic_ms;
  out->random_bytes = random_bytes;
  out->log = log_stderr;
  out->network_reachable = reachability_unknown;
  out->user_data = nullptr;
  out->device_info = device_info;
  return 0;
}
