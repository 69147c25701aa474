// What waymark-collector's commands share (main.cpp) and `serve` uses (serve.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <boost/program_options.hpp>

namespace waymark::collector::app {

// Structured logs: one JSON object per line on stderr with a UTC timestamp, never user data.
void log(const char* level, const std::string& msg);
int64_t now_ms();
// Reads exactly `len` bytes (a key file); false when the file is missing or has another size.
bool read_key(const std::filesystem::path& path, uint8_t* out, size_t len);
// Takes the data directory's lock (held until the process exits); false, logged, when another holds it,
// unless `standby`: then it waits for that process to end.
bool lock_data_dir(const std::filesystem::path& dir, bool standby = false);

// `serve`, in the role the options name (all, ingest or merger).
int serve(const boost::program_options::variables_map& vm);

}  // namespace waymark::collector::app
