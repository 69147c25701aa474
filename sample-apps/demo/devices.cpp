#include "devices.hpp"

#include <cstring>
#include <filesystem>
#include <variant>

#include "../kiosk/kiosk.hpp"
#include "../mobile/shop_app.hpp"
#include "../pos/pos.h"

namespace demo {

void Outcome::add(const Outcome& o) {
  recorded += o.recorded, refused += o.refused, junk += o.junk, invalid += o.invalid, errors += o.errors;
  uploaded += o.uploaded, purged += o.purged, dead_lettered += o.dead_lettered, queued_left += o.queued_left;
  dropped += o.dropped, evicted += o.evicted, unreadable += o.unreadable;
  presented.insert(presented.end(), o.presented.begin(), o.presented.end());
  for (const auto& m : o.messages)
    if (messages.size() < 5) messages.push_back(m);
}

// The host side of one simulated device: its clocks, keystore and network state.
class SimulatedDevice {
 public:
  SimulatedDevice(const Plan& plan, int index, const DeviceEnv& env) : device_(plan.devices[index]), env_(env) {
    const Device& d = device_;
    dir_ = env.root + "/" + std::to_string(index) + "-" + device_kind_name(d.kind);
    config_.store_dir = dir_.c_str();
    config_.app_id = device_kind_name(d.kind);
    config_.collector_url = env.collector_url.c_str();
    std::memcpy(config_.brand_key, env.brand_key.data(), 32);
    config_.brand_key_epoch = env.brand_key_epoch;
    std::memcpy(config_.collector_key, env.collector_key.data(), 32);
    config_.collector_key_id = env.collector_key_id;
    config_.has_collector_key = 1;
    // The devices record the whole period offline and upload at its end. Their age cap covers it, with
    // 30 days to spare: what they keep then does not depend on how long the upload takes in real time,
    // so that a faulted cluster run can be compared with one SQLite process event for event.
    config_.max_age_ms = env.send_at + 30 * kDay;
    platform_.version = WAYMARK_PLATFORM_VERSION;
    platform_.keystore_get = [](const char*, const char* name, uint8_t* out, size_t cap, size_t* len, void* u) {
      auto* self = static_cast<SimulatedDevice*>(u);
      std::lock_guard lock(self->mu_);
      auto it = self->keys_.find(name);
      if (it == self->keys_.end()) return WAYMARK_PLATFORM_NOT_FOUND;
      *len = it->second.size();
      std::memcpy(out, it->second.data(), std::min(cap, it->second.size()));
      return WAYMARK_PLATFORM_OK;
    };
    platform_.keystore_put = [](const char*, const char* name, const uint8_t* key, size_t len, void* u) {
      auto* self = static_cast<SimulatedDevice*>(u);
      std::lock_guard lock(self->mu_);
      self->keys_[name].assign(key, key + len);
      return WAYMARK_PLATFORM_OK;
    };
    platform_.keystore_delete = [](const char*, const char* name, void* u) {
      auto* self = static_cast<SimulatedDevice*>(u);
      std::lock_guard lock(self->mu_);
      self->keys_.erase(name);
      return WAYMARK_PLATFORM_OK;
    };
    platform_.clock_wall_ms = [](void* u) {
      auto* self = static_cast<SimulatedDevice*>(u);
      return self->env_.wall_origin_ms + self->clock() + self->device_.clock_skew_ms;
    };
    platform_.clock_monotonic_ms = [](void* u) {
      auto* self = static_cast<SimulatedDevice*>(u);
      return 1'000'000 + self->clock();  // a boot some time before the simulation started
    };
    platform_.network_reachable = [](void* u) { return static_cast<SimulatedDevice*>(u)->online_.load() ? 1 : 0; };
    platform_.user_data = this;
    config_.platform = &platform_;
    if (!device_.steps.empty()) now_ = device_.steps.front().t;
  }

  const sample_device_config_t& config() const { return config_; }
  const Device& device() const { return device_; }
  const DeviceEnv& env() const { return env_; }
  void at(int64_t t) { now_ = std::max(now_.load(), t); }
  // Simulated time; online (uploading, after `send_at`), real time since the demo's "now".
  int64_t clock() const {
    if (!online_) return now_.load();
    const auto real = std::chrono::steady_clock::now() - env_.started;
    return std::max(now_.load(), env_.send_at + std::chrono::duration_cast<std::chrono::milliseconds>(real).count());
  }

  // The personal device's own id, as the app could read it from its keystore.
  std::string device_id_hex() {
    std::lock_guard lock(mu_);
    static const char* digits = "0123456789abcdef";
    std::string hex;
    for (uint8_t b : keys_["device_id"]) hex += {digits[b >> 4], digits[b & 15]};
    return hex;
  }

  void upload(waymark::Client& client, Outcome& out) {
    at(env_.send_at);
    online_ = true;
    client.notify_lifecycle(WAYMARK_LIFECYCLE_NETWORK_CHANGED);
    const waymark_status_t s = waymark_client_flush(client.get(), 120'000);
    if (s != WAYMARK_OK) note(out, std::string("flush: ") + waymark_status_name(s));
    out.uploaded += client.stat(WAYMARK_STAT_UPLOADED);
    out.purged += client.stat(WAYMARK_STAT_PURGED);
    out.dead_lettered += client.stat(WAYMARK_STAT_DEAD_LETTERED);
    out.refused += client.stat(WAYMARK_STAT_REFUSED);
    out.queued_left += client.stat(WAYMARK_STAT_QUEUED);
    out.dropped += client.stat(WAYMARK_STAT_DROPPED);
    out.evicted += client.stat(WAYMARK_STAT_EVICTED);
    out.unreadable += client.stat(WAYMARK_STAT_UNREADABLE);
    client.close();
  }

  static void note(Outcome& out, std::string message) {
    ++out.errors;
    if (out.messages.size() < 5) out.messages.push_back(std::move(message));
  }

 private:
  const Device& device_;
  const DeviceEnv& env_;
  std::string dir_;
  sample_device_config_t config_{};
  waymark_platform_t platform_{};
  std::mutex mu_;
  std::map<std::string, std::vector<uint8_t>> keys_;
  std::atomic<int64_t> now_{0};
  std::atomic<bool> online_{false};
};

namespace {

// Runs one step's SDK calls; waymark::Error (junk input, …) is counted, never fatal.
template <typename Fn>
void guarded(Outcome& out, Fn&& fn) {
  try {
    fn();
  } catch (const waymark::Error& e) {
    if (e.status() == WAYMARK_ERR_JUNK_IDENTIFIER) {
      ++out.junk;
    } else if (e.status() == WAYMARK_ERR_INVALID_IDENTIFIER) {
      ++out.invalid;
    } else {
      SimulatedDevice::note(out, e.what());
    }
  }
}

void count(Outcome& out, waymark_status_t s) {
  if (s == WAYMARK_OK) ++out.recorded;
}

}  // namespace

void run_personal(const Plan& plan, int index, const DeviceEnv& env, Outcome& out) {
  SimulatedDevice sim(plan, index, env);
  const Device& d = sim.device();
  guarded(out, [&] {
    shop::ShopApp app(sim.config(), d.kind == DeviceKind::Web ? WAYMARK_CHANNEL_WEB : WAYMARK_CHANNEL_APP);
    const std::string device_id = sim.device_id_hex();
    bool analytics = false, device_presented = false;
    for (const Step& s : d.steps) {
      sim.at(s.t);
      guarded(out, [&] {
        switch (s.op) {
          case Op::Consent:
            app.consent(s.purpose, s.flag);
            if (s.purpose == WAYMARK_PURPOSE_ANALYTICS) analytics = s.flag;
            if (analytics && !device_presented) {
              out.presented.push_back({d.owner, WAYMARK_ID_DEVICE_ID, device_id});
              device_presented = true;
            }
            break;
          case Op::View: count(out, app.view(s.a)); break;
          case Op::Link: count(out, app.open_link(s.via, s.a, s.b, s.c)); break;
          case Op::Buy: count(out, app.purchase(s.amount, "GBP")); break;
          case Op::Login:
            if (app.login(s.a, s.b) == WAYMARK_OK) {
              out.presented.push_back({d.owner, WAYMARK_ID_EMAIL, s.a});
              out.presented.push_back({d.owner, WAYMARK_ID_ACCOUNT_ID, s.b});
            }
            break;
          case Op::Card:
            if (app.add_loyalty_card(s.a) == WAYMARK_OK && s.a == plan.customers[d.owner].card) {
              out.presented.push_back({d.owner, WAYMARK_ID_LOYALTY_ID, s.a});
            }
            break;
          case Op::Forget: app.forget_me(sim.env().erasure_token(d.owner)); break;
          default: SimulatedDevice::note(out, "a shared-device step on a personal device");
        }
      });
    }
    sim.upload(app.client(), out);
  });
}

struct SharedDevice::Impl {
  Impl(const Plan& p, int index, const DeviceEnv& env) : plan(p), sim(p, index, env) {}
  const Plan& plan;
  SimulatedDevice sim;
  std::unique_ptr<kiosk::Kiosk> kiosk;
  std::unique_ptr<waymark::Client> client;  // POS (C API, wrapped for closing), ATM, call centre

  void present(Outcome& out, int customer, waymark_id_kind_t kind, const std::string& value) {
    const Customer& c = plan.customers[customer];
    if (kind == WAYMARK_ID_LOYALTY_ID && value != c.card) return;  // a family's shared card: nobody's alone
    out.presented.push_back({customer, kind, value});
  }

  void visit(const Step& s, Outcome& out) {
    waymark::Client& cl = kiosk ? kiosk->client() : *client;
    switch (s.op) {
      case Op::Kiosk:
        if (!s.a.empty()) {
          kiosk->card_scanned(s.a);
          present(out, s.customer, WAYMARK_ID_LOYALTY_ID, s.a);
        } else {
          kiosk->consent_prompt(s.flag, s.flag);
        }
        for (int v = 0; v < s.views; ++v) {
          sim.at(s.t + (v + 1) * 20'000);
          count(out, kiosk->product_view("sku-" + std::to_string(1000 + (s.customer * 7 + v) % 50)));
        }
        if (!s.walk_away) kiosk->done();  // else the idle timeout ends the visit
        break;
      case Op::Sale: {
        const waymark_status_t st = pos_sale(cl.get(), s.a.empty() ? nullptr : s.a.c_str(), s.amount, "GBP");
        if (st < 0) throw waymark::Error(st);
        count(out, st);
        if (st == WAYMARK_OK && !s.a.empty()) present(out, s.customer, WAYMARK_ID_LOYALTY_ID, s.a);
        break;
      }
      case Op::Atm: {
        cl.begin_customer();
        cl.set_consent(WAYMARK_PURPOSE_ANALYTICS, true, "account-terms-v2");
        cl.identify(WAYMARK_ID_ACCOUNT_ID, s.a);
        present(out, s.customer, WAYMARK_ID_ACCOUNT_ID, s.a);
        waymark::Event e(WAYMARK_EVENT_TRACK, "cash_withdrawal");
        count(out, cl.record(e.channel(WAYMARK_CHANNEL_ATM)));
        cl.end_customer();
        break;
      }
      case Op::Call: {
        cl.begin_customer();
        cl.set_consent(WAYMARK_PURPOSE_ANALYTICS, true, "call-recording-notice-v1");
        cl.identify(WAYMARK_ID_ACCOUNT_ID, s.b);
        present(out, s.customer, WAYMARK_ID_ACCOUNT_ID, s.b);
        guarded(out, [&] {
          cl.identify(WAYMARK_ID_PHONE, s.a);
          present(out, s.customer, WAYMARK_ID_PHONE, s.a);
        });
        if (!s.c.empty()) guarded(out, [&] { cl.identify(WAYMARK_ID_EMAIL, s.c); });  // the brand's junk
        waymark::Event e(WAYMARK_EVENT_TRACK, "call");
        count(out, cl.record(e.channel(WAYMARK_CHANNEL_CALL_CENTRE)));
        cl.end_customer();
        break;
      }
      default: SimulatedDevice::note(out, "a personal-device step on a shared device");
    }
  }
};

SharedDevice::SharedDevice(const Plan& plan, int device, const DeviceEnv& env)
    : impl_(std::make_unique<Impl>(plan, device, env)) {}
SharedDevice::~SharedDevice() = default;

void SharedDevice::record(Outcome& out) {
  Impl& m = *impl_;
  guarded(out, [&] {
    const sample_device_config_t& config = m.sim.config();
    switch (m.sim.device().kind) {
      case DeviceKind::Kiosk: m.kiosk = std::make_unique<kiosk::Kiosk>(config, 2 * kMinute); break;
      case DeviceKind::Pos: {
        waymark_client_t* c = nullptr;  // the C sample opens it; the wrapper owns the handle from here
        waymark::check(pos_open(&config, &c));
        m.client = std::make_unique<waymark::Client>(waymark::Client::adopt(c));
        break;
      }
      default: {
        waymark::Options o;
        waymark::check(sample_apply_config(&config, o.get()));
        o.device_mode(WAYMARK_DEVICE_SHARED).default_region("GB");  // agents type local numbers
        m.client = std::make_unique<waymark::Client>(std::move(o));
      }
    }
    for (const Step& s : m.sim.device().steps) {
      m.sim.at(s.t);
      guarded(out, [&] { m.visit(s, out); });
    }
  });
}

void SharedDevice::upload(Outcome& out) {
  Impl& m = *impl_;
  waymark::Client* c = m.kiosk ? &m.kiosk->client() : m.client.get();
  if (c != nullptr) guarded(out, [&] { m.sim.upload(*c, out); });
}

}  // namespace demo
