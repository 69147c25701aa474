#include "store/disk_reserve.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace waymark::collector {

uint64_t DiskReserve::free_bytes(const std::string& path) {
  struct statvfs s {};
  if (statvfs(path.c_str(), &s) != 0) return 0;
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

bool DiskReserve::ensure() {
  if (bytes_ == 0) return true;
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= bytes_) return true;
  const std::string dir = path_.substr(0, path_.find_last_of('/') + 1);
  if (free_bytes(dir.empty() ? "." : dir) < bytes_ + kHeadroom) return false;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = posix_fallocate(fd, 0, static_cast<off_t>(bytes_)) == 0 && fsync(fd) == 0;
  ::close(fd);
  if (!ok) ::unlink(path_.c_str());
  return ok;
}

void DiskReserve::release() {
  ::unlink(path_.c_str());
}

}  // namespace waymark::collector
