#include "analytics/clv.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <future>
#include <limits>
#include <map>
#include <numeric>
#include <unordered_map>

#include <boost/math/special_functions/gamma.hpp>
#include <boost/math/special_functions/hypergeometric_pFq.hpp>
#include <nlopt.hpp>

namespace waymark::collector::analytics {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double log_gamma(double x) {
  return boost::math::lgamma(x);  // std::lgamma writes glibc's global signgam: not from two threads
}

double log_beta(double a, double b) {
  return log_gamma(a) + log_gamma(b) - log_gamma(a + b);
}

double log_sum_exp(double x, double y) {
  if (x == -kInf) return y;
  if (y == -kInf) return x;
  const double m = std::max(x, y);
  return m + std::log(std::exp(x - m) + std::exp(y - m));
}

struct Objective {
  const std::function<double(const std::vector<double>&)>& log_likelihood;
  std::vector<double> params;
};

// NLopt's objective: the log-likelihood at exp(log-parameters); a large finite penalty where it is not
// finite (BOBYQA models the function and cannot take infinities).
double objective(const std::vector<double>& logs, std::vector<double>&, void* data) {
  auto* o = static_cast<Objective*>(data);
  for (size_t i = 0; i < logs.size(); ++i) o->params[i] = std::exp(logs[i]);
  const double ll = o->log_likelihood(o->params);
  return std::isfinite(ll) ? ll : -1e300;
}

std::vector<std::string> at_bounds(const std::vector<double>& params, const std::vector<const char*>& names) {
  std::vector<std::string> out;
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i] <= kMinParam * 1.001 || params[i] >= kMaxParam / 1.001) out.emplace_back(names[i]);
  }
  return out;
}

std::string format(const char* text, double v) {
  char buf[160];
  std::snprintf(buf, sizeof buf, text, v);
  return buf;
}

}  // namespace

std::optional<Fitted> fit_positive(const std::function<double(const std::vector<double>&)>& log_likelihood,
                                   const std::vector<const char*>& names) {
  const size_t n = names.size();
  Objective o{log_likelihood, std::vector<double>(n)};
  nlopt::opt opt(nlopt::LN_BOBYQA, static_cast<unsigned>(n));
  opt.set_lower_bounds(std::vector<double>(n, std::log(kMinParam)));
  opt.set_upper_bounds(std::vector<double>(n, std::log(kMaxParam)));
  opt.set_max_objective(objective, &o);
  opt.set_xtol_rel(1e-10);
  opt.set_ftol_rel(1e-13);
  opt.set_maxeval(20000);
  opt.set_initial_step(0.5);
  std::vector<double> x(n, 0.0);
  double best = 0;
  Fitted out;
  try {
    const nlopt::result r = opt.optimize(x, best);
    out.check.converged = r == nlopt::SUCCESS || r == nlopt::FTOL_REACHED || r == nlopt::XTOL_REACHED;
  } catch (const std::runtime_error&) {  // roundoff-limited or failed: x holds the best point so far
  }
  out.check.evaluations = opt.get_numevals();
  for (double v : x) out.params.push_back(std::exp(v));
  if (!std::isfinite(log_likelihood(out.params))) return std::nullopt;
  out.check.at_bounds = at_bounds(out.params, names);
  if (!out.check.converged) out.check.degenerate = "the fit did not converge";
  return out;
}

double hyp2f1(double a, double b, double c, double z) {
  double error = 0;
  try {
    const double v = boost::math::hypergeometric_pFq({a, b}, {c}, z, &error);
    return std::abs(error) <= 1e-8 * std::max(1.0, std::abs(v)) ? v : std::nan("");
  } catch (const std::exception&) {  // Boost.Math's evaluation_error: the series did not converge
    return std::nan("");
  }
}

double bgnbd_log_likelihood(const BgNbd& m, const std::vector<RfmRow>& rows) {
  // Purchase counts are integers: log_gamma(r+x)-log_gamma(r) and the beta ratio become running sums of
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
  std::vector<double> head;  // log_gamma(r+x)-log_gamma(r) + lbeta(a,b+x)-lbeta(a,b), by x
  if (integral) {
    head.resize(max_x + 1);
    double sum = 0;
    for (size_t x = 0; x <= max_x; ++x) {
      head[x] = sum;
      const double j = static_cast<double>(x);
      sum += std::log(m.r + j) + std::log((m.b + j) / (m.a + m.b + j));
    }
  }
  const double lb = log_beta(m.a, m.b), lg_r = log_gamma(m.r), r_log_alpha = m.r * std::log(m.alpha),
               log_a = std::log(m.a);
  const auto part = [&](size_t from, size_t to) {
    double ll = 0;
    for (size_t i = from; i < to; ++i) {
      const RfmRow& c = rows[i];
      const double common =
          integral ? head[static_cast<size_t>(c.x)] : log_gamma(m.r + c.x) - lg_r + log_beta(m.a, m.b + c.x) - lb;
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
  auto f = fit_positive(
      [&](const std::vector<double>& v) {
        return bgnbd_log_likelihood({v[0], v[1], v[2], v[3], 0, {}}, rows);
      },
      {"r", "alpha", "a", "b"});
  if (!f) return std::nullopt;
  const auto& p = f->params;
  BgNbd m{p[0], p[1], p[2], p[3], bgnbd_log_likelihood({p[0], p[1], p[2], p[3], 0, {}}, rows), f->check};
  FitCheck& c = m.check;
  const double dropout = m.a / (m.a + m.b);  // the mean chance to stop after a purchase
  if (std::none_of(rows.begin(), rows.end(), [](const RfmRow& row) { return row.x > 0; })) {
    c.degenerate = "no customer bought more than once, so nothing shows when customers stop";
  } else if (!c.degenerate.empty()) {
    return m;  // it did not converge
  } else if (dropout < 1e-4) {
    c.degenerate = format(
        "customers (almost) never stop buying in this data: the mean chance to stop after a purchase is %.1e", dropout);
  }
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
    return log_gamma(m.r + j) - log_gamma(m.r) - log_gamma(j + 1.0) + m.r * base + j * step;
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
  // The gamma terms depend on x alone: computed once per distinct whole x (purchase counts), which
  // keeps the fit's hundreds of evaluations cheap on 100k customers.
  std::unordered_map<double, double> gammas;  // x -> lgamma(px + q) - lgamma(px)
  const double lg_q = log_gamma(m.q), q_log_v = m.q * std::log(m.v);
  double ll = 0;
  for (const RfmRow& c : rows) {
    if (c.x <= 0 || c.mean_value <= 0) continue;
    const double px = m.p * c.x;
    auto [it, fresh] = gammas.try_emplace(c.x);
    if (fresh) it->second = log_gamma(px + m.q) - log_gamma(px);
    ll += it->second - lg_q + q_log_v + (px - 1) * std::log(c.mean_value) + px * std::log(c.x) -
          (px + m.q) * std::log(c.x * c.mean_value + m.v);
  }
  return ll;
}

std::optional<GammaGamma> fit_gamma_gamma(const std::vector<RfmRow>& rows) {
  if (std::none_of(rows.begin(), rows.end(), [](const RfmRow& c) { return c.x > 0 && c.mean_value > 0; })) {
    return std::nullopt;
  }
  auto f = fit_positive(
      [&](const std::vector<double>& v) {
        return gamma_gamma_log_likelihood({v[0], v[1], v[2], 0, {}}, rows);
      },
      {"p", "q", "v"});
  if (!f) return std::nullopt;
  const auto& p = f->params;
  GammaGamma m{p[0], p[1], p[2], gamma_gamma_log_likelihood({p[0], p[1], p[2], 0, {}}, rows), f->check};
  if (!m.check.degenerate.empty()) return m;
  if (m.q <= 1) {
    m.check.degenerate = "q <= 1: the mean spend per purchase is not finite under this fit";
  } else if (m.p <= kMinParam * 1.001) {
    m.check.degenerate = "p ran to its lower bound: spend per purchase is not pinned down";
  }
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

namespace {

// One customer's purchase days in time order, returns netted: a return (a negative value) counts
// against the latest purchase day at or before it, and a day whose purchases were all returned is no
// purchase. A return before any purchase is dropped.
std::vector<std::pair<double, double>> net_days(const std::map<double, double>& days) {
  std::vector<std::pair<double, double>> out;
  for (const auto& [time, value] : days) {
    if (value >= 0) {
      out.emplace_back(time, value);
    } else if (!out.empty()) {
      out.back().second += value;
      if (out.back().second <= 0) out.pop_back();
    }
  }
  return out;
}

}  // namespace

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
    const auto d = net_days(days[id]);
    if (d.empty()) continue;  // first purchase after the end, or everything returned
    RfmRow r;
    const double first = d.front().first, last = d.back().first;
    r.x = static_cast<double>(d.size() - 1);
    r.t_x = (last - first) / unit;
    r.T = (end - first) / unit;
    double sum = 0;
    for (size_t i = 1; i < d.size(); ++i) sum += d[i].second;
    r.mean_value = r.x > 0 ? sum / r.x : 0;
    out.emplace_back(id, r);
  }
  return out;
}

}  // namespace waymark::collector::analytics
