// The reference conformance runner: every case of cases.json through the public C ABI, against a real
// waymark-collector on 127.0.0.1 for the cases that upload. Each binding has a runner of its own
// over the same file; they must agree with this one.
//
//   waymark-conformance <cases.json> <waymark-collector> [case name]
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "collector_process.hpp"
#include "waymark/waymark.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr uint8_t kBrandKey[32] = {0x57, 0x61, 0x79, 0x6d, 0x61, 0x72, 0x6b, 1, 2, 3, 4, 5, 6, 7, 8, 9};

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T lookup(const std::map<std::string, T>& names, const json& step, const char* key) {
  const std::string name = step.at(key).get<std::string>();
  const auto it = names.find(name);
  if (it == names.end()) throw Failure(std::string("unknown ") + key + " '" + name + "'");
  return it->second;
}

const std::map<std::string, int> kTypes = {{"track", WAYMARK_EVENT_TRACK},
                                           {"screen", WAYMARK_EVENT_SCREEN},
                                           {"purchase", WAYMARK_EVENT_PURCHASE},
                                           {"custom", WAYMARK_EVENT_CUSTOM}};
const std::map<std::string, int> kChannels = {{"unknown", WAYMARK_CHANNEL_UNKNOWN},
                                              {"app", WAYMARK_CHANNEL_APP},
                                              {"web", WAYMARK_CHANNEL_WEB},
                                              {"kiosk", WAYMARK_CHANNEL_KIOSK},
                                              {"atm", WAYMARK_CHANNEL_ATM},
                                              {"pos", WAYMARK_CHANNEL_POS},
                                              {"call_centre", WAYMARK_CHANNEL_CALL_CENTRE},
                                              {"email", WAYMARK_CHANNEL_EMAIL},
                                              {"sms", WAYMARK_CHANNEL_SMS},
                                              {"push", WAYMARK_CHANNEL_PUSH},
                                              {"other", WAYMARK_CHANNEL_OTHER},
                                              {"ivr", WAYMARK_CHANNEL_IVR},
                                              {"display", WAYMARK_CHANNEL_DISPLAY},
                                              {"video", WAYMARK_CHANNEL_VIDEO},
                                              {"social", WAYMARK_CHANNEL_SOCIAL},
                                              {"tv", WAYMARK_CHANNEL_TV},
                                              {"radio", WAYMARK_CHANNEL_RADIO},
                                              {"print", WAYMARK_CHANNEL_PRINT}};
const std::map<std::string, int> kPurposes = {{"analytics", WAYMARK_PURPOSE_ANALYTICS},
                                              {"personalisation", WAYMARK_PURPOSE_PERSONALISATION},
                                              {"advertising", WAYMARK_PURPOSE_ADVERTISING}};
const std::map<std::string, int> kKinds = {
    {"email", WAYMARK_ID_EMAIL},           {"phone", WAYMARK_ID_PHONE},           {"first_name", WAYMARK_ID_FIRST_NAME},
    {"last_name", WAYMARK_ID_LAST_NAME},   {"postcode", WAYMARK_ID_POSTCODE},     {"address", WAYMARK_ID_ADDRESS},
    {"loyalty_id", WAYMARK_ID_LOYALTY_ID}, {"account_id", WAYMARK_ID_ACCOUNT_ID}, {"device_id", WAYMARK_ID_DEVICE_ID},
    {"cookie_id", WAYMARK_ID_COOKIE_ID},   {"custom", WAYMARK_ID_CUSTOM}};
const std::map<std::string, int> kStats = {{"queued", WAYMARK_STAT_QUEUED},
                                           {"bytes", WAYMARK_STAT_BYTES},
                                           {"dropped", WAYMARK_STAT_DROPPED},
                                           {"refused", WAYMARK_STAT_REFUSED},
                                           {"evicted", WAYMARK_STAT_EVICTED},
                                           {"unreadable", WAYMARK_STAT_UNREADABLE},
                                           {"purged", WAYMARK_STAT_PURGED},
                                           {"uploaded", WAYMARK_STAT_UPLOADED},
                                           {"dead_lettered", WAYMARK_STAT_DEAD_LETTERED},
                                           {"rejected", WAYMARK_STAT_REJECTED}};

// A string in a case: JSON text, {"hex": "..."} for bytes that are not UTF-8, or {"repeat": s, "count": n}.
std::string text(const json& spec) {
  if (spec.is_string()) return spec.get<std::string>();
  if (spec.contains("hex")) {
    const std::string hex = spec.at("hex").get<std::string>();
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
  }
  std::string out;
  for (int i = 0; i < spec.at("count").get<int>(); ++i) out += spec.at("repeat").get<std::string>();
  return out;
}

std::string status_name(waymark_status_t s) {
  const std::string name = waymark_status_name(s);
  return name.rfind("WAYMARK_", 0) == 0 ? name.substr(8) : name;
}

// GET /metrics from the collector; the value of one counter.
int64_t collector_counter(uint16_t port, const std::string& counter) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    throw Failure("cannot reach the collector");
  }
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    throw Failure("cannot ask the collector");
  }
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const auto at = response.find("\n" + counter + " ");
  return at == std::string::npos ? 0 : std::atoll(response.c_str() + at + counter.size() + 2);
}

class CaseRun {
 public:
  CaseRun(std::string collector_binary, fs::path dir) : binary_(std::move(collector_binary)), dir_(std::move(dir)) {}
  ~CaseRun() {
    if (client_ != nullptr) waymark_client_free(client_);
  }

  void step(const json& s) {
    const std::string op = s.at("op").get<std::string>();
    const std::string expect = s.value("expect", "OK");
    const waymark_status_t got = run(op, s);
    if (status_name(got) != expect) {
      throw Failure(op + ": expected " + expect + ", got " + status_name(got) + " (" + waymark_last_error_message() +
                    ")");
    }
  }

 private:
  waymark_status_t run(const std::string& op, const json& s) {
    if (op == "open") return open(s);
    if (op == "collector_events") {
      if (!collector_) throw Failure("collector_events: no case step opened with upload");
      check_value(s, collector_counter(collector_->port(), "waymark_events_accepted_total"));
      return WAYMARK_OK;
    }
    if (op == "close") return waymark_client_close(client_);
    if (op == "record") return record(s.at("event"));
    if (op == "record_batch") return record_batch(s);
    if (op == "identify") {
      const std::string v = text(s.at("value"));
      return waymark_client_identify(client_, static_cast<waymark_id_kind_t>(lookup(kKinds, s, "kind")), v.data(),
                                     v.size());
    }
    if (op == "set_consent") {
      return waymark_client_set_consent(client_, static_cast<waymark_purpose_t>(lookup(kPurposes, s, "purpose")),
                                        s.at("granted").get<bool>() ? 1 : 0, "conformance-1", 13);
    }
    if (op == "get_consent") {
      int granted = -1;
      const waymark_status_t st = waymark_client_get_consent(
          client_, static_cast<waymark_purpose_t>(lookup(kPurposes, s, "purpose")), &granted);
      if (st == WAYMARK_OK && s.contains("value") && (granted != 0) != s.at("value").get<bool>()) {
        throw Failure("get_consent: expected " + s.at("value").dump() + ", got " + std::to_string(granted));
      }
      return st;
    }
    if (op == "begin_customer") return waymark_client_begin_customer(client_);
    if (op == "end_customer") return waymark_client_end_customer(client_);
    if (op == "forget") return waymark_client_forget(client_);
    if (op == "flush") return waymark_client_flush(client_, s.at("timeout_ms").get<int64_t>());
    if (op == "stat") {
      int64_t v = -1;
      const waymark_status_t st =
          waymark_client_stat(client_, static_cast<waymark_stat_t>(lookup(kStats, s, "stat")), &v);
      if (st == WAYMARK_OK) check_value(s, v);
      return st;
    }
    throw Failure("unknown op '" + op + "'");
  }

  static void check_value(const json& s, int64_t v) {
    if (s.contains("value") && v != s.at("value").get<int64_t>()) {
      throw Failure("expected " + s.at("value").dump() + ", got " + std::to_string(v));
    }
    if (s.contains("min") && v < s.at("min").get<int64_t>()) {
      throw Failure("expected at least " + s.at("min").dump() + ", got " + std::to_string(v));
    }
  }

  waymark_status_t open(const json& s) {
    if (client_ != nullptr) {
      waymark_client_free(client_);
      client_ = nullptr;
    }
    if (s.value("store", "fresh") == "fresh") store_ = (dir_ / ("store-" + std::to_string(++stores_))).string();
    waymark_options_t* o = nullptr;
    waymark_options_new(&o);
    waymark_options_set_store_path(o, store_.data(), store_.size());
    waymark_options_set_app_id(o, "conformance", 11);
    waymark_options_set_brand_key(o, kBrandKey, sizeof kBrandKey, 1);
    waymark_options_set_default_region(o, "GB", 2);
    waymark_options_set_device_mode(
        o, s.value("mode", "personal") == "shared" ? WAYMARK_DEVICE_SHARED : WAYMARK_DEVICE_PERSONAL);
    waymark_options_set_durability(
        o, s.value("durability", "async") == "durable" ? WAYMARK_DURABILITY_DURABLE : WAYMARK_DURABILITY_ASYNC);
    waymark_options_set_child_mode(o, s.value("child_mode", false) ? 1 : 0);
    if (s.value("upload", false)) {
      if (!collector_) {
        key_ = demo::CollectorProcess::generate_keys(binary_, (dir_ / "collector").string());
        collector_ = std::make_unique<demo::CollectorProcess>(
            binary_, std::vector<std::string>{"serve", "--data-dir", (dir_ / "collector").string(), "--port", "0"},
            (dir_ / "collector.log").string());
      }
      const std::string url = "http://127.0.0.1:" + std::to_string(collector_->port()) + "/v1/batches";
      waymark_options_set_collector_url(o, url.data(), url.size());
      waymark_options_add_collector_key(o, key_.data(), key_.size(), 1);
      waymark_options_set_retry_policy(o, 50, 500, 2000, 5000);
    }
    return waymark_client_open(o, &client_);
  }

  waymark_status_t record(const json& e) {
    waymark_event_t* ev = nullptr;
    waymark_status_t st = build(e, &ev);
    if (st == WAYMARK_OK) st = waymark_client_record(client_, ev);
    waymark_event_free(ev);
    return st;
  }

  // The first event that fails to build decides the status; else the call's, with `statuses` checked.
  waymark_status_t record_batch(const json& s) {
    std::vector<waymark_event_t*> events;
    waymark_status_t st = WAYMARK_OK;
    for (const json& e : s.at("events")) {
      if (st == WAYMARK_OK) st = build(e, &events.emplace_back());
    }
    std::vector<waymark_status_t> statuses(events.size());
    if (st == WAYMARK_OK) {
      std::vector<const waymark_event_t*> list(events.begin(), events.end());
      st = waymark_client_record_batch(client_, list.data(), list.size(), statuses.data());
    }
    for (waymark_event_t* e : events) waymark_event_free(e);
    if (st >= 0 && s.contains("statuses")) {
      std::vector<std::string> names;
      for (waymark_status_t v : statuses) names.push_back(status_name(v));
      if (names != s.at("statuses").get<std::vector<std::string>>())
        throw Failure("record_batch: statuses differ: " + json(names).dump());
    }
    return st;
  }

  // Builds the event a step describes into *out (freed by the caller, also on error).
  waymark_status_t build(const json& e, waymark_event_t** out) {
    const std::string name = text(e.at("name"));
    waymark_event_t*& ev = *out;
    waymark_status_t st =
        waymark_event_new(static_cast<waymark_event_type_t>(lookup(kTypes, e, "type")), name.data(), name.size(), &ev);
    const auto then = [&](waymark_status_t next) {
      if (st == WAYMARK_OK) st = next;
    };
    if (st == WAYMARK_OK && e.contains("channel")) {
      then(waymark_event_set_channel(ev, static_cast<waymark_channel_t>(lookup(kChannels, e, "channel"))));
    }
    if (st == WAYMARK_OK && e.contains("purpose")) {
      then(waymark_event_set_purpose(ev, static_cast<waymark_purpose_t>(lookup(kPurposes, e, "purpose"))));
    }
    const json properties = e.value("properties", json::object());
    for (const auto& [key, value] : properties.items()) {
      if (st != WAYMARK_OK) break;
      if (value.is_boolean()) {
        then(waymark_event_set_bool(ev, key.data(), key.size(), value.get<bool>() ? 1 : 0));
      } else if (value.is_number_integer()) {
        then(waymark_event_set_int(ev, key.data(), key.size(), value.get<int64_t>()));
      } else if (value.is_number_float()) {
        then(waymark_event_set_double(ev, key.data(), key.size(), value.get<double>()));
      } else {
        const std::string v = text(value);
        then(waymark_event_set_string(ev, key.data(), key.size(), v.data(), v.size()));
      }
    }
    if (st == WAYMARK_OK && e.contains("revenue")) {
      const json& r = e.at("revenue");
      const std::string currency = r.at("currency").get<std::string>();
      then(
          r.contains("minor")
              ? waymark_event_set_revenue(ev, r.at("minor").get<int64_t>(), currency.data(), currency.size())
              : waymark_event_set_revenue_decimal(ev, r.at("decimal").get<double>(), currency.data(), currency.size()));
    }
    if (st == WAYMARK_OK && e.contains("campaign")) {
      const json& c = e.at("campaign");
      const std::string source = c.value("source", ""), medium = c.value("medium", ""), cname = c.value("name", ""),
                        content = c.value("content", "");
      then(waymark_event_set_campaign(ev, source.data(), source.size(), medium.data(), medium.size(), cname.data(),
                                      cname.size(), content.data(), content.size()));
    }
    return st;
  }

  std::string binary_;
  fs::path dir_;
  std::string store_;
  int stores_ = 0;
  waymark_client_t* client_ = nullptr;
  std::array<uint8_t, 32> key_{};
  std::unique_ptr<demo::CollectorProcess> collector_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: waymark-conformance <cases.json> <waymark-collector> [case name]\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  const json doc = json::parse(in, nullptr, false);
  if (doc.is_discarded() || doc.value("format", 0) != 1) {
    std::fprintf(stderr, "waymark-conformance: %s is not a format 1 case file\n", argv[1]);
    return 2;
  }
  int passed = 0, failed = 0;
  for (const json& c : doc.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    if (argc > 3 && name != argv[3]) continue;
    std::string tmpl = (fs::temp_directory_path() / "waymark-conformance-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return 2;
    size_t index = 0;
    try {
      CaseRun run(argv[2], tmpl);
      for (const json& s : c.at("steps")) {
        ++index;
        run.step(s);
      }
      std::printf("PASS %s\n", name.c_str());
      ++passed;
    } catch (const std::exception& e) {  // Failure, a malformed case, or a collector that would not start
      std::printf("FAIL %s: step %zu: %s\n", name.c_str(), index, e.what());
      ++failed;
    }
    fs::remove_all(tmpl);
  }
  std::printf("conformance (C ABI): %d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
