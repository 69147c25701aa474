#include "analytics/clv.hpp"

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <numeric>

namespace waymark::collector::analytics {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double log_beta(double a, double b) {
  return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
}

double log_sum_exp(double x, double y) {
  if (x == -kInf) return y;
  if (y == -kInf) return x;
  const double m = std::max(x, y);
  return m + std::log(std::exp(x - m) + std::exp(y - m));
}

// Fits by minimising -LL over log-parameters, restarting once from the optimum so a collapsed
// simplex cannot stop early.
std::optional<std::vector<double>> fit_log_params(const std::function<double(const std::vector<double>&)>& ll, size_t n,
                                                  int* iterations) {
  const auto objective = [&](const std::vector<double>& lp) {
    std::vector<double> p(lp.size());
    for (size_t i = 0; i < lp.size(); ++i) p[i] = std::exp(lp[i]);
    const double v = -ll(p);
    return std::isfinite(v) ? v : kInf;
  };
  int first = 0, second = 0;
  auto best = nelder_mead(objective, std::vector<double>(n, 0.0), 1e-10, 20000, &first);
  best = nelder_mead(objective, best, 1e-10, 20000, &second, 0.05);
  if (iterations != nullptr) *iterations = first + second;
  for (double& v : best) {
    v = std::exp(v);
    if (!std::isfinite(v) || v <= 0) return std::nullopt;
  }
  if (!std::isfinite(ll(best))) return std::nullopt;
  return best;
}

}  // namespace

std::vector<double> nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> start,
                                double tolerance, int max_iterations, int* iterations, double step) {
  const size_t n = start.size();
  const double dn = static_cast<double>(n);
  // Adaptive coefficients (Gao & Han 2012) behave better than the classic ones beyond two dimensions.
  const double alpha = 1, beta = 1 + 2 / dn, gamma = 0.75 - 1 / (2 * dn), delta = 1 - 1 / dn;
  std::vector<std::vector<double>> x(n + 1, start);
  for (size_t i = 0; i < n; ++i) x[i + 1][i] += step;
  std::vector<double> fx(n + 1);
  for (size_t i = 0; i <= n; ++i) fx[i] = f(x[i]);
  std::vector<size_t> order(n + 1);
  int it = 0;
  const auto point = [&](const std::vector<double>& c, const std::vector<double>& w, double t) {
    std::vector<double> p(n);
    for (size_t j = 0; j < n; ++j) p[j] = c[j] + t * (w[j] - c[j]);
    return p;
  };
  for (; it < max_iterations; ++it) {
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return fx[a] < fx[b]; });
    const size_t lo = order.front(), hi = order.back(), second = order[n - 1];
    double size = 0;
    for (size_t i = 0; i <= n; ++i) {
      for (size_t j = 0; j < n; ++j) size = std::max(size, std::abs(x[i][j] - x[lo][j]));
    }
    if (std::abs(fx[hi] - fx[lo]) <= tolerance * (1 + std::abs(fx[lo])) && size < 1e-6) break;
    std::vector<double> c(n, 0.0);
    for (size_t i = 0; i <= n; ++i) {
      if (i == hi) continue;
      for (size_t j = 0; j < n; ++j) c[j] += x[i][j] / dn;
    }
    const auto xr = point(c, x[hi], -alpha);
    const double fr = f(xr);
    if (fr < fx[lo]) {
      const auto xe = point(c, x[hi], -alpha * beta);
      const double fe = f(xe);
      if (fe < fr) {
        x[hi] = xe;
        fx[hi] = fe;
      } else {
        x[hi] = xr;
        fx[hi] = fr;
      }
      continue;
    }
    if (fr < fx[second]) {
      x[hi] = xr;
      fx[hi] = fr;
      continue;
    }
    const bool outside = fr < fx[hi];
    const auto xc = outside ? point(c, xr, gamma) : point(c, x[hi], gamma);
    const double fc = f(xc);
    if (fc <= (outside ? fr : fx[hi])) {
      x[hi] = xc;
      fx[hi] = fc;
      continue;
    }
    for (size_t i = 0; i <= n; ++i) {  // shrink towards the best point
      if (i == lo) continue;
      x[i] = point(x[lo], x[i], delta);
      fx[i] = f(x[i]);
    }
  }
  if (iterations != nullptr) *iterations = it;
  const size_t best = static_cast<size_t>(std::min_element(fx.begin(), fx.end()) - fx.begin());
  return x[best];
}

double hyp2f1(double a, double b, double c, double z) {
  double term = 1, sum = 1;
  for (int k = 0; k < 1000000; ++k) {
    term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z;
    sum += term;
    if (std::abs(term) < 1e-16 * std::abs(sum)) break;
  }
  return sum;
}

double bgnbd_log_likelihood(const BgNbd& m, const std::vector<RfmRow>& rows) {
  // Purchase counts are integers: lgamma(r+x)-lgamma(r) and the beta ratio become running sums of
  // logs, computed once per distinct x instead of four lgamma calls per customer.
  size_t max_x = 0;
  bool integral = true;
  for (const RfmRow& c : rows) {
    if (c.x != std::floor(c.x) || c.x < 0 || c.x > 1e6) {
      integral = false;
      break;
    }
    max_x = std::max(max_x, static_cast<size_t>(c.x));
  }
  std::vector<double> head;  // lgamma(r+x)-lgamma(r) + lbeta(a,b+x)-lbeta(a,b), by x
  if (integral) {
    head.resize(max_x + 1);
    double sum = 0;
    for (size_t x = 0; x <= max_x; ++x) {
      head[x] = sum;
      const double j = static_cast<double>(x);
      sum += std::log(m.r + j) + std::log((m.b + j) / (m.a + m.b + j));
    }
  }
  const double lb = log_beta(m.a, m.b), lg_r = std::lgamma(m.r), r_log_alpha = m.r * std::log(m.alpha),
               log_a = std::log(m.a);
  const auto part = [&](size_t from, size_t to) {
    double ll = 0;
    for (size_t i = from; i < to; ++i) {
      const RfmRow& c = rows[i];
      const double common =
          integral ? head[static_cast<size_t>(c.x)] : std::lgamma(m.r + c.x) - lg_r + log_beta(m.a, m.b + c.x) - lb;
      const double a3 = -(m.r + c.x) * std::log(m.alpha + c.T);
      const double a4 = c.x > 0 ? log_a - std::log(m.b + c.x - 1) - (m.r + c.x) * std::log(m.alpha + c.t_x) : -kInf;
      ll += common + r_log_alpha + log_sum_exp(a3, a4);
    }
    return ll;
  };
  if (rows.size() < 20000) return part(0, rows.size());
  // Large fits: the second half on another core (the optimiser evaluates this a few hundred times).
  const size_t mid = rows.size() / 2;
  auto second = std::async(std::launch::async, part, mid, rows.size());
  const double first = part(0, mid);
  return first + second.get();
}

std::optional<BgNbd> fit_bgnbd(const std::vector<RfmRow>& rows) {
  if (rows.empty()) return std::nullopt;
  int iterations = 0;
  auto p = fit_log_params(
      [&](const std::vector<double>& v) {
        return bgnbd_log_likelihood({v[0], v[1], v[2], v[3]}, rows);
      },
      4, &iterations);
  if (!p) return std::nullopt;
  BgNbd m{(*p)[0], (*p)[1], (*p)[2], (*p)[3]};
  m.log_likelihood = bgnbd_log_likelihood(m, rows);
  m.iterations = iterations;
  return m;
}

double bgnbd_expected(const BgNbd& m, double t, double x, double t_x, double T) {
  const double z = t / (m.alpha + T + t);
  const double head = (m.a + m.b + x - 1) / (m.a - 1);
  const double body =
      1 - std::pow((m.alpha + T) / (m.alpha + T + t), m.r + x) * hyp2f1(m.r + x, m.b + x, m.a + m.b + x - 1, z);
  const double tail = x > 0 ? m.a / (m.b + x - 1) * std::pow((m.alpha + T) / (m.alpha + t_x), m.r + x) : 0;
  return head * body / (1 + tail);
}

double bgnbd_unconditional(const BgNbd& m, double t) {
  return (m.a + m.b - 1) / (m.a - 1) *
         (1 - std::pow(m.alpha / (m.alpha + t), m.r) * hyp2f1(m.r, m.b, m.a + m.b - 1, t / (m.alpha + t)));
}

double bgnbd_p_alive(const BgNbd& m, double x, double t_x, double T) {
  if (x == 0) return 1;
  return 1 / (1 + m.a / (m.b + x - 1) * std::pow((m.alpha + T) / (m.alpha + t_x), m.r + x));
}

double bgnbd_p_count(const BgNbd& m, double t, int n) {
  const double base = std::log(m.alpha / (m.alpha + t)), step = std::log(t / (m.alpha + t));
  const auto log_term = [&](int j) {
    return std::lgamma(m.r + j) - std::lgamma(m.r) - std::lgamma(j + 1.0) + m.r * base + j * step;
  };
  double p = std::exp(log_beta(m.a, m.b + n) - log_beta(m.a, m.b) + log_term(n));
  if (n > 0) {
    double partial = 0;
    for (int j = 0; j < n; ++j) partial += std::exp(log_term(j));
    p += std::exp(log_beta(m.a + 1, m.b + n - 1) - log_beta(m.a, m.b)) * (1 - partial);
  }
  return p;
}

double gamma_gamma_log_likelihood(const GammaGamma& m, const std::vector<RfmRow>& rows) {
  double ll = 0;
  for (const RfmRow& c : rows) {
    if (c.x <= 0 || c.mean_value <= 0) continue;
    const double px = m.p * c.x;
    ll += std::lgamma(px + m.q) - std::lgamma(px) - std::lgamma(m.q) + m.q * std::log(m.v) +
          (px - 1) * std::log(c.mean_value) + px * std::log(c.x) - (px + m.q) * std::log(c.x * c.mean_value + m.v);
  }
  return ll;
}

std::optional<GammaGamma> fit_gamma_gamma(const std::vector<RfmRow>& rows) {
  if (std::none_of(rows.begin(), rows.end(), [](const RfmRow& c) { return c.x > 0 && c.mean_value > 0; })) {
    return std::nullopt;
  }
  int iterations = 0;
  auto p = fit_log_params(
      [&](const std::vector<double>& v) {
        return gamma_gamma_log_likelihood({v[0], v[1], v[2]}, rows);
      },
      3, &iterations);
  if (!p) return std::nullopt;
  GammaGamma m{(*p)[0], (*p)[1], (*p)[2]};
  m.log_likelihood = gamma_gamma_log_likelihood(m, rows);
  m.iterations = iterations;
  return m;
}

double gamma_gamma_expected(const GammaGamma& m, double x, double mean_value) {
  if (x <= 0) return m.p * m.v / (m.q - 1);  // the population mean
  return m.p * (m.v + x * mean_value) / (m.p * x + m.q - 1);
}

double discounted_clv(const BgNbd& bg, const GammaGamma& gg, const RfmRow& c, int periods, double period, double rate) {
  const double value = gamma_gamma_expected(gg, c.x, c.mean_value);
  double clv = 0, before = 0;
  for (int i = 1; i <= periods; ++i) {
    const double upto = bgnbd_expected(bg, i * period, c.x, c.t_x, c.T);
    clv += value * (upto - before) / std::pow(1 + rate, i);
    before = upto;
  }
  return clv;
}

std::vector<std::pair<std::string, RfmRow>> summarise(const std::vector<Purchase>& purchases, double end, double unit) {
  std::map<std::string, std::map<double, double>> days;  // customer -> time -> summed value
  std::vector<std::string> order;
  for (const Purchase& p : purchases) {
    auto [it, fresh] = days.try_emplace(p.customer);
    if (fresh) order.push_back(p.customer);
    if (p.time <= end) it->second[p.time] += p.value;
  }
  std::vector<std::pair<std::string, RfmRow>> out;
  for (const std::string& id : order) {
    const auto& d = days[id];
    if (d.empty()) continue;  // first purchase after the end
    RfmRow r;
    const double first = d.begin()->first, last = d.rbegin()->first;
    r.x = static_cast<double>(d.size() - 1);
    r.t_x = (last - first) / unit;
    r.T = (end - first) / unit;
    double sum = 0;
    for (auto it = std::next(d.begin()); it != d.end(); ++it) sum += it->second;
    r.mean_value = r.x > 0 ? sum / r.x : 0;
    out.emplace_back(id, r);
  }
  return out;
}

}  // namespace waymark::collector::analytics
