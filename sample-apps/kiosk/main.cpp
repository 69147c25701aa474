// kiosk: an in-store kiosk driven by lines on stdin:
//     touch | scan <loyalty-card> | consent <yes|no> <yes|no> | view <sku> | done | sync | stats | segments
// `segments` asks the collector which segments the shopper is in, to personalise the screen (after a
// sync; empty without personalisation consent).
// e.g. waymark-sample-kiosk --store /var/lib/kiosk --brand-key-file brand.key --idle-timeout-ms 120000
//        --collector-url http://127.0.0.1:8080/v1/batches --collector-key <hex> --collector-key-id 1
#include <cstdlib>
#include <cstring>

#include "../common/script.hpp"
#include "kiosk.hpp"

int main(int argc, char** argv) {
  sample_device_config_t config{};
  config.app_id = "kiosk";
  if (sample_parse_args(argc, argv, &config) != 0) return 2;
  int64_t idle_ms = 120000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--idle-timeout-ms") == 0) idle_ms = std::atoll(argv[i + 1]);
  }
  try {
    kiosk::Kiosk k(config, idle_ms);
    std::vector<std::string> w;
    while (sample::next_command(std::cin, w)) {
      const std::string& verb = w[0];
      try {
        if (verb == "touch") {
          k.touch();
        } else if (verb == "scan" && w.size() == 2) {
          k.card_scanned(w[1]);
        } else if (verb == "consent" && w.size() == 3) {
          k.consent_prompt(w[1] == "yes", w[2] == "yes");
        } else if (verb == "view" && w.size() == 2) {
          const waymark_status_t s = k.product_view(w[1]);
          if (s != WAYMARK_OK) std::cout << waymark_status_name(s) << "\n";
        } else if (verb == "done") {
          k.done();
        } else if (verb == "sync") {
          k.client().flush(10000);
        } else if (verb == "segments") {
          std::string line = "segments=";
          for (const std::string& name : k.client().fetch_segments(5000)) {
            line += (line.back() == '=' ? "" : ",") + name;
          }
          std::cout << line << "\n";
        } else if (verb == "stats") {
          std::cout << "queued=" << k.client().stat(WAYMARK_STAT_QUEUED)
                    << " uploaded=" << k.client().stat(WAYMARK_STAT_UPLOADED)
                    << " refused=" << k.client().stat(WAYMARK_STAT_REFUSED) << "\n";
        } else {
          std::cerr << "kiosk: unknown command: " << verb << "\n";
          continue;
        }
        std::cout << "ok\n" << std::flush;
      } catch (const waymark::Error& e) {
        std::cout << e.what() << "\n" << std::flush;  // e.g. a junk card number: ask the shopper again
      }
    }
    k.client().close();
  } catch (const waymark::Error& e) {
    std::cerr << "kiosk: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
