// Customer lifetime value: BG/NBD (Fader, Hardie & Lee 2005) for purchase counts and Gamma-Gamma for
// spend per purchase, fitted by maximum likelihood with NLopt's BOBYQA on log-parameters within bounds,
// and checked: a fit that did not converge, or whose data cannot pin a parameter down (it runs to its
// bound), is flagged as no forecast.
// Time is in any unit (weeks for CDNOW); every input is per customer: x = repeat purchases,
// t_x = time of the last purchase since the first, T = time since the first purchase.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace waymark::collector::analytics {

struct RfmRow {
  double x = 0, t_x = 0, T = 0;
  double mean_value = 0;  // mean value of the repeat purchases (0 when x = 0)
};

// Every parameter is searched in [kMinParam, kMaxParam].
inline constexpr double kMinParam = 1e-6, kMaxParam = 1e6;

// How a fit went.
struct FitCheck {
  bool converged = false;  // the optimiser met its tolerance, not its evaluation limit or a failure
  int evaluations = 0;
  // Parameters that ended at a bound, for the record. Large values are often a meaningful limit
  // (BG/NBD's r and alpha both large: everyone buys at one rate r/alpha; a and b: one dropout chance
  // a/(a+b)), so a bound alone does not make a fit degenerate.
  std::vector<std::string> at_bounds;
  // Why the parameters are no forecast, or "": no convergence, no repeat purchases, BG/NBD customers
  // who (almost) never stop (a/(a+b) < 1e-4), Gamma-Gamma's q <= 1 or p at its lower bound.
  std::string degenerate;
  bool forecast() const { return converged && degenerate.empty(); }
};

struct BgNbd {
  double r = 0, alpha = 0, a = 0, b = 0;
  double log_likelihood = 0;
  FitCheck check;
};

struct GammaGamma {
  double p = 0, q = 0, v = 0;
  double log_likelihood = 0;
  FitCheck check;
};

// Maximises `log_likelihood` over positive parameters named `names`, searched on their logarithms
// within [kMinParam, kMaxParam] from 1 each (BOBYQA, deterministic). Nothing when the likelihood is not
// finite there.
struct Fitted {
  std::vector<double> params;
  FitCheck check;
};
std::optional<Fitted> fit_positive(const std::function<double(const std::vector<double>&)>& log_likelihood,
                                   const std::vector<const char*>& names);

// Gauss hypergeometric 2F1(a, b; c; z) for 0 <= z < 1 (Boost.Math's pFq); NaN when its error estimate
// says the series lost its precision (z close to 1), so no caller reports a wrong number as a value.
double hyp2f1(double a, double b, double c, double z);

double bgnbd_log_likelihood(const BgNbd& m, const std::vector<RfmRow>& rows);
// Nothing when there are no customers or the likelihood is nowhere finite; else the fit and its check.
std::optional<BgNbd> fit_bgnbd(const std::vector<RfmRow>& rows);
// Expected purchases in the next `t` for a customer with history (x, t_x, T).
double bgnbd_expected(const BgNbd& m, double t, double x, double t_x, double T);
// Expected purchases in (0, t] of a new customer.
double bgnbd_unconditional(const BgNbd& m, double t);
double bgnbd_p_alive(const BgNbd& m, double x, double t_x, double T);
// P(X(t) = n) for a new customer.
double bgnbd_p_count(const BgNbd& m, double t, int n);

// Fitted on the customers with x > 0 only.
std::optional<GammaGamma> fit_gamma_gamma(const std::vector<RfmRow>& rows);
double gamma_gamma_log_likelihood(const GammaGamma& m, const std::vector<RfmRow>& rows);
// Expected value of a purchase given x repeat purchases with mean value m.
double gamma_gamma_expected(const GammaGamma& m, double x, double mean_value);

// Discounted CLV over `periods` periods of length `period` (e.g. 12 months of 4.345 weeks),
// discounting each period's expected value by (1 + rate)^i.
double discounted_clv(const BgNbd& bg, const GammaGamma& gg, const RfmRow& c, int periods, double period, double rate);

// One purchase of one customer at a time (any unit, e.g. days since an epoch) with its value.
struct Purchase {
  std::string customer;
  double time = 0;
  double value = 0;
};
// Builds the RFM summary as of `end` (purchases after it are ignored): purchases at the same time
// merge and sum; a return (negative value) nets against the latest purchase at or before it, and a
// purchase wholly returned is none; x = distinct purchase times − 1; t_x and T are measured from the
// first purchase, divided by `unit` (7 turns days into weeks). Customers in first-seen order.
std::vector<std::pair<std::string, RfmRow>> summarise(const std::vector<Purchase>& purchases, double end, double unit);

}  // namespace waymark::collector::analytics
