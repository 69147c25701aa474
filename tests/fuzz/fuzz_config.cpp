// waymark-collector's config file: arbitrary `key = value` text through Boost.Program_options with the
// collector's own options, then the validation `serve` applies (tokens, identity limits, segments,
// report privacy, server limits). Bad files must be errors, never crashes or exceptions.
#include <sstream>
#include <string>

#include "config/options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto opts = waymark::collector::collector_options();
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  boost::program_options::variables_map vm;
  if (!waymark::collector::parse_config(in, opts, vm).ok()) return 0;
  (void)waymark::collector::serve_settings(vm);
  return 0;
}
