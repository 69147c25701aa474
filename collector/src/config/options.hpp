// waymark-collector's options (command line and `--config` file) and the validation of what `serve`
// takes from them, apart from main() so they are tested and fuzzed as they run.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "analytics/segments.hpp"
#include "cluster/merger.hpp"
#include "api/query_api.hpp"
#include "identity/rules.hpp"
#include "server/http_server.hpp"
#include "store/store.hpp"

namespace waymark::collector {

// Every option of every command, and the positional command (what the command line is parsed with).
boost::program_options::options_description collector_options();
// The help for one command (its options and those of every command), or the list of commands for an
// empty one; "" for an unknown command.
std::string collector_help(const std::vector<std::string>& command);

// The command line, then the config file it names (`key = value` lines; the command line wins).
// Errors (unknown option, bad value, unreadable file) as INVALID_ARGUMENT with the user's message.
Result<boost::program_options::variables_map> parse_options(int argc, const char* const* argv,
                                                            const boost::program_options::options_description& opts);
// Adds a config file's options to `vm` and notifies it; never throws.
Status parse_config(std::istream& in, const boost::program_options::options_description& opts,
                    boost::program_options::variables_map& vm);

// What the reports take from the options (report-k, report-epsilon, report-time-zone, segment,
// segment-currency, conversion-goal), validated: Errc::invalid names the first bad one.
Result<ReportSettings> report_settings(const boost::program_options::variables_map& vm);

// Everything `serve` takes from the options besides the keys and the store, validated.
// What one `serve` process does (issue 21, docs/scale-out.md).
enum class Role { All, Ingest, Merger, Query };

struct ServeSettings {
  Role role = Role::All;
  queue::StreamConfig queue;  // ingest and merger
  MergerOptions merger;
  uint64_t max_queue_lag = 1'000'000;  // batches; 0: never push back
  IdentityRules rules;
  ReportSettings reports;
  std::vector<ApiToken> tokens;
  ServerConfig server;
  IngestLimits ingest;
  uint64_t disk_reserve_bytes = 64u << 20;
  std::vector<std::array<uint8_t, 32>> authority_keys;  // brand-authority-key
  std::vector<uint8_t> verified_kinds;                  // verified-kinds
};
Result<ServeSettings> serve_settings(const boost::program_options::variables_map& vm);

}  // namespace waymark::collector
