// mobile: the shop app driven by lines on stdin (--web makes it the web front end):
//     consent <analytics|personalisation|advertising> <yes|no> | view <screen>
//     link <email|sms|push|app|web> <source> <medium> <campaign> | login <email> <account-id>
//     card <loyalty-card> | buy <amount_minor> <currency> | forget | sync | stats
// e.g. waymark-sample-mobile --store ~/.local/share/shop --brand-key-file brand.key
//        --collector-url http://127.0.0.1:8080/v1/batches --collector-key <hex> --collector-key-id 1
#include <cstdlib>
#include <cstring>
#include <map>

#include "../common/script.hpp"
#include "shop_app.hpp"

int main(int argc, char** argv) {
  sample_device_config_t config{};
  config.app_id = "shop-app";
  if (sample_parse_args(argc, argv, &config) != 0) return 2;
  waymark_channel_t channel = WAYMARK_CHANNEL_APP;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--web") == 0) channel = WAYMARK_CHANNEL_WEB;
  }
  const std::map<std::string, waymark_purpose_t> purposes = {{"analytics", WAYMARK_PURPOSE_ANALYTICS},
                                                             {"personalisation", WAYMARK_PURPOSE_PERSONALISATION},
                                                             {"advertising", WAYMARK_PURPOSE_ADVERTISING}};
  const std::map<std::string, waymark_channel_t> channels = {{"email", WAYMARK_CHANNEL_EMAIL},
                                                             {"sms", WAYMARK_CHANNEL_SMS},
                                                             {"push", WAYMARK_CHANNEL_PUSH},
                                                             {"app", WAYMARK_CHANNEL_APP},
                                                             {"web", WAYMARK_CHANNEL_WEB}};
  try {
    shop::ShopApp app(config, channel);
    std::vector<std::string> w;
    while (sample::next_command(std::cin, w)) {
      const std::string& verb = w[0];
      try {
        waymark_status_t s = WAYMARK_OK;
        if (verb == "consent" && w.size() == 3 && purposes.count(w[1]) != 0) {
          app.consent(purposes.at(w[1]), w[2] == "yes");
        } else if (verb == "view" && w.size() == 2) {
          s = app.view(w[1]);
        } else if (verb == "link" && w.size() == 5 && channels.count(w[1]) != 0) {
          s = app.open_link(channels.at(w[1]), w[2], w[3], w[4]);
        } else if (verb == "login" && w.size() == 3) {
          s = app.login(w[1], w[2]);
        } else if (verb == "card" && w.size() == 2) {
          s = app.add_loyalty_card(w[1]);
        } else if (verb == "buy" && w.size() == 3) {
          s = app.purchase(std::atoll(w[1].c_str()), w[2]);
        } else if (verb == "forget") {
          app.forget_me();
        } else if (verb == "sync") {
          app.sync(10000);
        } else if (verb == "stats") {
          std::cout << "queued=" << app.client().stat(WAYMARK_STAT_QUEUED)
                    << " uploaded=" << app.client().stat(WAYMARK_STAT_UPLOADED)
                    << " refused=" << app.client().stat(WAYMARK_STAT_REFUSED)
                    << " purged=" << app.client().stat(WAYMARK_STAT_PURGED) << "\n";
        } else {
          std::cerr << "mobile: unknown command: " << verb << "\n";
          continue;
        }
        std::cout << (s == WAYMARK_OK ? "ok" : waymark_status_name(s)) << "\n" << std::flush;
      } catch (const waymark::Error& e) {
        std::cout << e.what() << "\n" << std::flush;
      }
    }
    app.client().close();
  } catch (const waymark::Error& e) {
    std::cerr << "mobile: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
