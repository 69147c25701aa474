#include "simulator.hpp"

#include <algorithm>
#include <map>
#include <cmath>
#include <random>

namespace demo {

const char* device_kind_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::App: return "app";
    case DeviceKind::Web: return "web";
    case DeviceKind::Kiosk: return "kiosk";
    case DeviceKind::Pos: return "pos";
    case DeviceKind::Atm: return "atm";
    case DeviceKind::CallCentre: return "call-centre";
  }
  return "?";
}

namespace {

// std:: distributions differ between standard libraries; these are ours so a seed means one run.
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  double uniform() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return uniform() < p; }
  int64_t range(int64_t lo, int64_t hi) {  // [lo, hi)
    return hi <= lo ? lo : lo + static_cast<int64_t>(g_() % static_cast<uint64_t>(hi - lo));
  }
  double exponential(double mean) { return -mean * std::log1p(-uniform()); }
  double normal() {  // Box-Muller
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
  }
  double gamma(double shape, double scale) {  // Marsaglia-Tsang, shape >= 1
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x = normal(), v = 1.0 + c * x;
      if (v <= 0) continue;
      v = v * v * v;
      const double u = uniform();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v * scale;
    }
  }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(range(0, static_cast<int64_t>(v.size())))];
  }

 private:
  std::mt19937_64 g_;
};

const std::vector<std::string> kFirst = {"Ann",   "Bola",  "Chen",   "Dara",   "Eoin", "Fatima", "Grace", "Hiro",
                                         "Ines",  "Jonas", "Kemi",   "Liam",   "Maya", "Nuno",   "Olga",  "Priya",
                                         "Quinn", "Rosa",  "Sanjay", "Tomasz", "Ugo",  "Vera",   "Wei",   "Yusuf"};
const std::vector<std::string> kLast = {"Smith",  "Okafor", "Li",      "Murphy", "Kelly", "Haddad", "Brown",   "Sato",
                                        "Garcia", "Berg",   "Adeyemi", "Walsh",  "Patel", "Silva",  "Ivanova", "Shah"};
const std::vector<std::string> kScreens = {"home", "search", "product", "basket", "offers", "store_finder"};

// Waking hours: a time on day `day` between 08:00 and 22:00.
int64_t daytime(Rng& rng, int64_t day) {
  return day * kDay + 8 * kHour + rng.range(0, 14 * kHour);
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

struct Store {
  int kiosk, atm;
  int pos[2];
};

struct Timeline {
  int64_t start, stop;
  double sale_rate;  // baseline POS purchases per day
  int home;          // home store
  int primary = -1;  // the device a forget request comes from
};

class Builder {
 public:
  Builder(uint64_t seed, int n, int days) : rng_(seed), ads_(seed ^ 0xad5eed), end_(days * kDay) {
    plan_.days = days;
    plan_.brand_junk_email = "noemail@brand.example";
    plan_.junk = {"test@test.com", "null", plan_.brand_junk_email};
    make_shared_devices(std::max(2, n / 250));
    for (int i = 0; i < n; ++i) make_customer(i);
    choose_households_and_rare_cases();
    for (int i = 0; i < n; ++i) make_personal_devices(i);
    make_campaigns();
    for (int i = 0; i < n; ++i) make_visits(i);
    for (Device& d : plan_.devices) {
      std::stable_sort(d.steps.begin(), d.steps.end(), [](const Step& x, const Step& y) { return x.t < y.t; });
    }
  }
  Plan take() {
    for (size_t i = 0; i < timelines_.size(); ++i) plan_.customers[i].active_until = timelines_[i].stop;
    for (int64_t day = 0; day < plan_.days; ++day) pay(day * kDay, "Display", 6000);  // banners nobody clicks
    for (const auto& [key, minor] : spend_) plan_.spend.push_back({key.first, key.second, minor});
    return std::move(plan_);
  }

 private:
  int add_device(DeviceKind kind, int owner, int64_t skew = 0) {
    plan_.devices.push_back(Device{kind, owner, skew, {}});
    return static_cast<int>(plan_.devices.size()) - 1;
  }

  void make_shared_devices(int stores) {
    for (int s = 0; s < stores; ++s) {
      Store st{};
      st.kiosk = add_device(DeviceKind::Kiosk, -1);
      for (int& p : st.pos) {
        // Every third till has a wrong clock (days off): the collector must place its sales anyway.
        const bool skewed = (plan_.devices.size() % 3) == 0;
        const int64_t skew = skewed ? (rng_.chance(0.5) ? 1 : -1) * rng_.range(kDay, 3 * kDay) : 0;
        p = add_device(DeviceKind::Pos, -1, skew);
      }
      st.atm = add_device(DeviceKind::Atm, -1);
      stores_.push_back(st);
    }
    for (int i = 0; i < 2; ++i) desks_.push_back(add_device(DeviceKind::CallCentre, -1));
  }

  void make_customer(int i) {
    Customer c;
    const std::string first = rng_.pick(kFirst), last = rng_.pick(kLast);
    const double d = rng_.uniform();
    const std::string domain = d < 0.3 ? "gmail.com" : d < 0.7 ? "example.com" : "example.net";
    c.email = first + "." + last + std::to_string(i) + "@" + domain;
    c.account = "AC" + std::to_string(40000000 + i * 37);
    const std::string digits = std::to_string(100000 + i).substr(1);  // 5 digits
    c.phone_e164 = "+4477009" + digits;
    c.phone_typed = "07700 9" + digits;
    if (rng_.chance(0.7)) c.card = "LC" + std::to_string(6000000000LL + i * 11LL);
    c.spend_mean_minor = 1500.0 + rng_.gamma(2.0, 1500.0);
    Timeline tl;
    tl.start = rng_.range(0, end_ / 4);
    tl.stop = rng_.chance(0.2) ? rng_.range(tl.start + 7 * kDay, end_ + 7 * kDay) : end_;
    tl.stop = std::min(tl.stop, end_);
    tl.sale_rate = rng_.gamma(1.5, 1.0 / 27.0);
    const double ad = ads_.uniform();  // planted channel quality (Customer::acquired_via)
    if (ad < 0.15) {
      c.acquired_via = "Paid Search";
      c.spend_mean_minor *= 1.5;
      tl.sale_rate *= 1.4;
    } else if (ad < 0.3) {
      c.acquired_via = "Paid Social";
      c.spend_mean_minor *= 0.6;
      tl.sale_rate *= 0.7;
    }
    churn(tl);
    tl.home = static_cast<int>(rng_.range(0, static_cast<int64_t>(stores_.size())));
    plan_.customers.push_back(std::move(c));
    timelines_.push_back(tl);
  }

  // Churn as BG/NBD models it: after each purchase (at the customer's own rate) they stop for good with
  // a chance of their own, Beta(1.2, 4) (mean 0.23); everything of theirs ends a day later.
  void churn(Timeline& tl) {
    const double x = rng_.gamma(1.2, 1), dropout = x / (x + rng_.gamma(4.0, 1));
    for (int64_t t = tl.start;;) {
      t += static_cast<int64_t>(rng_.exponential(1.0 / tl.sale_rate * kDay));
      if (t >= tl.stop) return;
      if (rng_.chance(dropout)) {
        tl.stop = t + kDay;
        return;
      }
    }
  }

  void choose_households_and_rare_cases() {
    const int n = static_cast<int>(plan_.customers.size());
    std::vector<int> holders;
    for (int i = 0; i < n; ++i)
      if (!plan_.customers[i].card.empty()) holders.push_back(i);
    std::vector<bool> involved(n, false);
    for (int i = 0; i < n && !holders.empty(); ++i) {
      Customer& c = plan_.customers[i];
      if (!c.card.empty() || !rng_.chance(0.04)) continue;
      const int owner = rng_.pick(holders);
      c.borrowed_card = plan_.customers[owner].card;  // a family member's card, on purpose
      involved[i] = involved[owner] = true;
      ++plan_.households;
    }
    // A few customers ask to be forgotten, a few withdraw analytics consent (never the same ones,
    // never a family sharing a card: their card must stay usable by the other member).
    const int forgets = std::max(2, n / 200), withdrawals = std::max(2, n * 3 / 100);
    for (int k = 0, guard = 0; k < forgets + withdrawals && guard < 100 * n; ++guard) {
      const int i = static_cast<int>(rng_.range(0, n));
      if (involved[i]) continue;
      involved[i] = true;
      if (k < forgets) {  // they stop coming some time before the end, then ask
        Timeline& tl = timelines_[i];
        plan_.customers[i].forgotten = true;
        tl.stop = rng_.range(tl.start + (tl.stop - tl.start) / 2, tl.stop);
      } else {
        plan_.customers[i].withdrew = true;
      }
      ++k;
    }
  }

  Step step(int64_t t, Op op, int customer) {
    Step s;
    s.t = t;
    s.op = op;
    s.customer = customer;
    return s;
  }

  void make_personal_devices(int i) {
    Customer& c = plan_.customers[i];
    Timeline& tl = timelines_[i];
    std::vector<DeviceKind> kinds;
    if (rng_.chance(0.75)) kinds.push_back(DeviceKind::App);
    if (rng_.chance(0.55) || kinds.empty()) kinds.push_back(DeviceKind::Web);
    if (rng_.chance(0.1)) kinds.push_back(DeviceKind::App);  // a tablet too
    for (DeviceKind kind : kinds) {
      const int d = add_device(kind, i);
      c.devices.push_back(d);
      login_t_.resize(plan_.devices.size(), -1);
      Device& dev = plan_.devices[d];
      const bool web = kind == DeviceKind::Web;
      int64_t t = daytime(rng_, tl.start / kDay + rng_.range(0, 3));
      const bool acquired_here = c.devices.size() == 1 && !c.acquired_via.empty();
      if (t >= tl.stop || acquired_here) t = tl.start;  // the ad that brought them is their first touch
      Step consent = step(t, Op::Consent, i);
      consent.flag = rng_.chance(0.96);
      dev.steps.push_back(consent);
      Step perso = step(t + 1000, Op::Consent, i);
      perso.purpose = WAYMARK_PURPOSE_PERSONALISATION;
      perso.flag = rng_.chance(0.7);
      dev.steps.push_back(perso);
      std::vector<int64_t> sessions;
      for (; t < tl.stop; t += static_cast<int64_t>(rng_.exponential(6.0 * kDay))) sessions.push_back(t);
      if (sessions.empty()) sessions.push_back(tl.start);
      // Most people log in on their second to fourth visit; 2 % of devices never do.
      const int login_session =
          rng_.chance(0.98) || c.forgotten
              ? static_cast<int>(std::min<int64_t>(rng_.range(1, 4), static_cast<int64_t>(sessions.size()) - 1))
              : 1 << 30;
      bool withdrawn = false;
      for (int session = 0; session < static_cast<int>(sessions.size()); ++session) {
        t = sessions[static_cast<size_t>(session)];
        int64_t at = t + 2000;
        if (acquired_here && session == 0) {
          const bool search = c.acquired_via == "Paid Search";
          add_link(d, i, at, web ? WAYMARK_CHANNEL_WEB : WAYMARK_CHANNEL_APP, search ? "google" : "facebook",
                   search ? "cpc" : "paid_social", search ? "generic-search" : "spring-social");
          pay(at, c.acquired_via, search ? 240 : 70);
          at += kMinute;
        }
        if (web && rng_.chance(0.2)) {  // arrived from a paid search ad
          Step link = step(at, Op::Link, i);
          link.via = WAYMARK_CHANNEL_WEB;
          link.a = "google", link.b = "cpc", link.c = "brand-search";
          dev.steps.push_back(link);
          pay(at, "Paid Search", 90);
          ++plan_.planted.search_clicks;
          if (rng_.chance(0.25)) {  // planted: paid search sells on the web, in the same session
            Step buy = step(at + rng_.range(2 * kMinute, 10 * kMinute), Op::Buy, i);
            buy.amount = sale_amount(c);
            dev.steps.push_back(buy);
            ++plan_.planted.search_caused_orders;
          }
        }
        for (int v = static_cast<int>(rng_.range(1, 5)); v > 0; --v) {
          at += rng_.range(10'000, 120'000);
          Step view = step(at, Op::View, i);
          view.a = rng_.pick(kScreens);
          dev.steps.push_back(view);
        }
        if (login_t_[d] < 0 && !withdrawn && session >= login_session) {
          at += kMinute;
          if (rng_.chance(0.03)) {  // junk first: the SDK refuses it
            Step junk = step(at, Op::Login, i);
            junk.a = "test@test.com", junk.b = c.account;
            dev.steps.push_back(junk);
          }
          if (web && rng_.chance(0.05)) {  // a typo first, corrected later: both are really theirs
            Step typo = step(at + 500, Op::Login, i);
            typo.a = c.email.substr(0, c.email.find('@')) + "@exmaple.com", typo.b = c.account;
            c.extra.push_back({WAYMARK_ID_EMAIL, typo.a, lower(typo.a)});
            dev.steps.push_back(typo);
            at += 3 * kMinute;
          }
          Step login = step(at + 1000, Op::Login, i);
          login.a = typed_email(c, web), login.b = c.account;
          dev.steps.push_back(login);
          login_t_[d] = login.t;
          {  // the account shows the loyalty card registered to it; a family's card half the time
            const std::string& card = !c.card.empty() ? c.card : c.borrowed_card;
            if (!card.empty() && rng_.chance(c.card.empty() ? 0.5 : 0.97)) {
              Step add = step(at + 30'000, Op::Card, i);
              add.a = card;
              dev.steps.push_back(add);
            }
          }
          if (tl.primary < 0 && kind == DeviceKind::App) tl.primary = d;
        }
        if (c.withdrew && !withdrawn && login_t_[d] >= 0 && t > tl.start + (tl.stop - tl.start) / 2) {
          Step w = step(at + kMinute, Op::Consent, i);
          w.flag = false;
          dev.steps.push_back(w);
          withdrawn = true;
        }
        if (rng_.chance(1.0 / 30.0 * 6.0 / 2.0) && login_t_[d] >= 0) {  // an order now and then
          Step buy = step(at + 2 * kMinute, Op::Buy, i);
          buy.amount = sale_amount(c);
          dev.steps.push_back(buy);
        }
      }
      if (tl.primary < 0 && login_t_[d] >= 0) tl.primary = d;
    }
    if (c.forgotten) {
      if (tl.primary < 0) {
        c.forgotten = false;  // nobody to ask from: the brand would handle it by hand
      } else {
        std::vector<Step>& steps = plan_.devices[tl.primary].steps;
        int64_t last = 0;
        for (int d : c.devices) last = std::max(last, plan_.devices[d].last_t());
        steps.push_back(step(std::max(last, tl.stop) + kMinute, Op::Forget, i));
        tl.stop = std::max(last, tl.stop);  // nothing of theirs after the request
      }
    }
  }

  std::string typed_email(const Customer& c, bool web) {
    // People type their address in different ways; the SDK's normalisation must make them one.
    std::string e = c.email;
    if (!web) e[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(e[0])));
    if (c.email.find("@gmail.com") != std::string::npos && web) {
      const std::string local = c.email.substr(0, c.email.find('@'));
      std::string no_dots;
      for (char ch : local)
        if (ch != '.') no_dots += ch;
      e = no_dots + "+shop@gmail.com";
    }
    return rng_.chance(0.1) ? " " + e + " " : e;
  }

  int64_t sale_amount(const Customer& c) {
    return std::max<int64_t>(199, static_cast<int64_t>(c.spend_mean_minor * (0.6 + 0.8 * rng_.uniform())));
  }

  // The device a customer opens a link on at time t: an app that has logged in, else any logged-in one.
  int link_device(int i, int64_t t, bool app_only) {
    int best = -1;
    for (int d : plan_.customers[i].devices) {
      if (login_t_[d] < 0 || login_t_[d] > t) continue;
      if (plan_.devices[d].kind == DeviceKind::App) return d;
      if (!app_only) best = d;
    }
    return best;
  }

  bool active(int i, int64_t t) const { return t >= timelines_[i].start && t < timelines_[i].stop; }

  // Marketing spend at simulated time t (Plan::spend).
  void pay(int64_t t, const std::string& channel_group, int64_t minor) { spend_[{t / kDay, channel_group}] += minor; }

  void add_link(int d, int i, int64_t t, waymark_channel_t via, const char* src, const char* medium, std::string name) {
    Step link = step(t, Op::Link, i);
    link.via = via;
    link.a = src, link.b = medium, link.c = std::move(name);
    plan_.devices[d].steps.push_back(link);
  }

  void make_campaigns() {
    const int n = static_cast<int>(plan_.customers.size());
    for (int64_t day = 2, week = 1; day * kDay < end_; day += 7, ++week) {  // the weekly newsletter
      for (int i = 0; i < n; ++i) {
        const int64_t t = day * kDay + 9 * kHour + static_cast<int64_t>(rng_.exponential(3.0 * kHour));
        if (!active(i, t) || !rng_.chance(0.12)) continue;
        const int d = link_device(i, t, false);
        if (d < 0) continue;
        add_link(d, i, t, WAYMARK_CHANNEL_EMAIL, "newsletter", "email", "weekly-" + std::to_string(week));
        pay(t, "Email", 30);  // the send, shared out per click
        ++plan_.planted.email_clicks;
        if (rng_.chance(0.8)) planted_sales_.push_back({i, t + 2 * kDay + rng_.range(-4 * kHour, 4 * kHour)});
      }
    }
    for (int64_t day = 5, k = 1; day * kDay < end_; day += 10, ++k) {  // SMS flash sales: no effect
      for (int i = 0; i < n; ++i) {
        const int64_t t = day * kDay + 12 * kHour + static_cast<int64_t>(rng_.exponential(2.0 * kHour));
        if (!active(i, t) || !rng_.chance(0.12)) continue;
        const int d = link_device(i, t, false);
        if (d < 0) continue;
        add_link(d, i, t, WAYMARK_CHANNEL_SMS, "sms", "sms", "flash-" + std::to_string(k));
        pay(t, "SMS", 50);
        ++plan_.planted.sms_clicks;
      }
    }
    for (int64_t day = 1, k = 1; day * kDay < end_; day += 6, ++k) {  // push notifications: no effect
      for (int i = 0; i < n; ++i) {
        const int64_t t = day * kDay + 18 * kHour + static_cast<int64_t>(rng_.exponential(1.0 * kHour));
        if (!active(i, t) || !rng_.chance(0.15)) continue;
        const int d = link_device(i, t, true);
        if (d < 0) continue;
        add_link(d, i, t, WAYMARK_CHANNEL_PUSH, "app", "push", "push-" + std::to_string(k));
        ++plan_.planted.push_opens;
      }
    }
  }

  void add_sale(int i, int64_t t, bool planted) {
    const Customer& c = plan_.customers[i];
    const Store& st = stores_[rng_.chance(0.8) ? timelines_[i].home : rng_.range(0, (int64_t)stores_.size())];
    Step sale = step(t, Op::Sale, i);
    if (!c.card.empty() && rng_.chance(0.85)) sale.a = c.card;
    if (!c.borrowed_card.empty() && rng_.chance(0.8)) sale.a = c.borrowed_card;
    sale.amount = sale_amount(c);
    plan_.devices[st.pos[rng_.range(0, 2)]].steps.push_back(sale);
    if (planted && !sale.a.empty()) ++plan_.planted.email_caused_sales;
  }

  void make_visits(int i) {
    const Customer& c = plan_.customers[i];
    const Timeline& tl = timelines_[i];
    const Store& home = stores_[tl.home];
    for (int64_t t = tl.start + static_cast<int64_t>(rng_.exponential(1.0 / tl.sale_rate * kDay)); t < tl.stop;
         t += static_cast<int64_t>(rng_.exponential(1.0 / tl.sale_rate * kDay))) {
      add_sale(i, daytime(rng_, t / kDay), false);
    }
    for (const auto& [who, t] : planted_sales_)
      if (who == i && active(i, t)) add_sale(i, t, true);
    for (int64_t t = tl.start + static_cast<int64_t>(rng_.exponential(20.0 * kDay)); t < tl.stop;
         t += static_cast<int64_t>(rng_.exponential(20.0 * kDay))) {
      Step visit = step(daytime(rng_, t / kDay), Op::Kiosk, i);
      const std::string& card = !c.card.empty() ? c.card : c.borrowed_card;
      if (!card.empty() && rng_.chance(0.6)) visit.a = card;
      visit.flag = rng_.chance(0.8);
      visit.views = static_cast<int>(rng_.range(2, 5));
      visit.walk_away = rng_.chance(0.25);
      plan_.devices[home.kiosk].steps.push_back(visit);
    }
    if (rng_.chance(0.35)) {
      for (int64_t t = tl.start + static_cast<int64_t>(rng_.exponential(10.0 * kDay)); t < tl.stop;
           t += static_cast<int64_t>(rng_.exponential(10.0 * kDay))) {
        Step atm = step(daytime(rng_, t / kDay), Op::Atm, i);
        atm.a = c.account;
        plan_.devices[home.atm].steps.push_back(atm);
      }
    }
    if (rng_.chance(0.12)) {
      Step call = step(daytime(rng_, rng_.range(tl.start, tl.stop) / kDay), Op::Call, i);
      if (call.t < tl.stop) {
        call.a = c.phone_typed, call.b = c.account;
        if (rng_.chance(0.4)) call.c = plan_.brand_junk_email;  // what agents type when there is none
        plan_.devices[rng_.pick(desks_)].steps.push_back(call);
      }
    }
  }

  Rng rng_;
  Rng ads_;  // who an ad brought: its own stream, so the rest of the brand is as it was without ads
  int64_t end_;
  Plan plan_;
  std::vector<Store> stores_;
  std::vector<int> desks_;
  std::vector<Timeline> timelines_;
  std::vector<int64_t> login_t_;
  std::vector<std::pair<int, int64_t>> planted_sales_;
  std::map<std::pair<int64_t, std::string>, int64_t> spend_;  // (day, channel group) -> minor units
};

}  // namespace

Plan simulate(uint64_t seed, int customers, int days) {
  return Builder(seed, customers, days).take();
}

}  // namespace demo
