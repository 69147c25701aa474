// Analytics: all six attribution models over 1M conversion paths (average length 5), and the BG/NBD +
// Gamma-Gamma fit on 100k simulated customers. The floor is one pass that reads every touch of the
// same paths (what any model must at least do).
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "analytics/attribution.hpp"
#include "analytics/clv.hpp"

using Clock = std::chrono::steady_clock;
using namespace waymark::collector::analytics;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n_paths = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  std::mt19937_64 rng(3);
  const std::vector<std::string> channels = {"App", "Web", "Kiosk", "Atm", "Pos", "CallCentre", "Email", "Sms", "Push"};
  std::vector<Path> paths(n_paths);
  size_t touches = 0;
  for (Path& p : paths) {
    const int n = 1 + static_cast<int>(rng() % 9);  // 1..9, mean 5
    for (int k = 0; k < n; ++k) p.touches.push_back({channels[rng() % channels.size()], (n - k) * 20.0});
    touches += static_cast<size_t>(n);
    if (rng() % 4 == 0) {
      p.nulls = 1;
    } else {
      p.conversions = 1;
      p.revenue = static_cast<double>(rng() % 10000);
    }
  }
  auto t = Clock::now();
  double floor_sum = 0;
  for (const Path& p : paths) {
    for (const Touch& x : p.touches) floor_sum += static_cast<double>(x.key.size()) * p.conversions;
  }
  const double floor = seconds_since(t);
  t = Clock::now();
  double checksum = 0;
  for (Model m : kModels) {
    const auto tm = Clock::now();
    for (const auto& [key, c] : attribute(paths, m, {})) checksum += c.conversions;
    std::printf("BENCH attribution_%s_%zuk_paths %.3f s\n", std::string(model_name(m)).c_str(), n_paths / 1000,
                seconds_since(tm));
  }
  const double all = seconds_since(t);
  std::printf("BENCH attribution_all_models_%zuk_paths %.3f s\n", n_paths / 1000, all);
  std::printf("BENCH touch_scan_floor %.3f s\n", floor);
  std::printf("RATIO attribution_all_models %.4f vs touch_scan_floor\n", floor / all);
  if (checksum <= 0 || floor_sum <= 0) return 1;

  // BG/NBD: simulate 100k customers from the CDNOW estimates, observed for 39 weeks.
  const BgNbd truth{0.243, 4.414, 0.793, 2.426, 0, {}};
  std::vector<RfmRow> rows;
  for (int i = 0; i < 100000; ++i) {
    std::gamma_distribution<double> lambda_d(truth.r, 1 / truth.alpha);
    std::gamma_distribution<double> ga(truth.a, 1), gb(truth.b, 1);
    const double lambda = lambda_d(rng), xa = ga(rng), xb = gb(rng), p = xa / (xa + xb);
    const double T = 39 - static_cast<double>(rng() % 12);  // joined over 12 weeks
    RfmRow r{0, 0, T, 0};
    std::exponential_distribution<double> gap(lambda);
    std::uniform_real_distribution<double> u(0, 1);
    double now = 0;
    while (true) {
      now += gap(rng);
      if (now > T) break;
      r.x += 1;
      r.t_x = now;
      if (u(rng) < p) break;  // drops out after this purchase
    }
    std::gamma_distribution<double> spend(6.25, 1.0);
    r.mean_value = r.x > 0 ? 10 + spend(rng) * 5 : 0;
    rows.push_back(r);
  }
  t = Clock::now();
  const auto fit = fit_bgnbd(rows);
  const double fit_s = seconds_since(t);
  t = Clock::now();
  const auto gg = fit_gamma_gamma(rows);
  const double gg_s = seconds_since(t);
  if (!fit || !gg) return 1;
  std::printf("BENCH bgnbd_fit_100k_customers %.3f s\n", fit_s);
  std::printf("BENCH bgnbd_fit_recovered_r %.3f (true 0.243)\n", fit->r);
  std::printf("BENCH bgnbd_fit_evaluations %d count\n", fit->check.evaluations);
  std::printf("BENCH gamma_gamma_fit_100k_customers %.3f s\n", gg_s);
  return 0;
}
