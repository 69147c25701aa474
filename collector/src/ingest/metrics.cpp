#include "ingest/metrics.hpp"

#include "status.hpp"

#include <sstream>
#include <utility>

namespace waymark::collector {

namespace {

// Name (without the waymark_ prefix), HELP text; names ending in _total are counters, others gauges.
constexpr std::pair<const char*, const char*> kFamilies[] = {
    {"accept_errors_total", "Failed accepts (out of descriptors, or another accept error)."},
    {"batches_accepted_total", "Batches committed."},
    {"batches_rejected_total", "Batches or requests refused, all reasons (see waymark_rejected_total)."},
    {"batches_queued_total", "Batches an ingest node published to the queue (JetStream stored them)."},
    {"batches_resent_total", "Batches received again and answered with their stored receipt."},
    {"connections_over_cap_total", "Connections beyond max-connections, each given one answer."},
    {"device_segment_lists_total", "Segment lists sent to devices."},
    {"device_segment_refusals_total", "Device segment requests refused."},
    {"erasures_total", "Erasures: the SDK's forget and POST /v1/erasure."},
    {"events_accepted_total", "Events stored (and erasure requests carried out)."},
    {"events_duplicate_total", "Events received again and not stored twice."},
    {"identity_assertions_refused_total",
     "Identity assertions received that proved nothing: another device's or identifier's, an unknown signer, "
     "expired, or malformed."},
    {"identity_assertions_verified_total", "Identity assertions received that proved their identifier."},
    {"identity_merges_total", "Identity links that merged two profiles, since start."},
    {"identity_pending_events", "Events waiting for identity resolution."},
    {"identity_refusals_total", "Identity links refused by a rule, since start."},
    {"ingest_commits_total", "Store transactions that committed groups of batches."},
    {"queue_lag_messages", "Merger: batches on the queue not yet committed (undelivered, or delivered and unacked)."},
    {"queue_lag_seconds", "Merger: how long the oldest batch it last took had waited on the queue."},
    {"queue_publish_failures_total", "Ingest node: batches the queue did not store (answered 503)."},
    {"store_commit_failures_total", "Groups of batches the store could not commit (answered 503)."},
    {"store_degraded", "1 while the store cannot commit (the disk is full), else 0."},
    {"tls_handshake_failures_total",
     "TLS handshakes that failed (plain HTTP, an old TLS version, a bad client "
     "certificate, or a timeout)."},
    {"unmerges_total", "Unmerges through POST /v1/unmerge."},
};

const char* help_of(const std::string& name) {
  for (const auto& [n, help] : kFamilies) {
    if (name == n) return help;
  }
  return "A collector counter.";
}

bool is_counter(const std::string& name) {
  return name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
}

}  // namespace

Metrics::Metrics() {
  for (const auto& [name, help] : kFamilies) (is_counter(name) ? counters_ : gauges_)[name] = 0;
}

void Metrics::request(const std::string& route, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[route + "\",status=\"" + std::to_string(status)];
  Latency& l = latency_[route];
  for (size_t i = 0; i < std::size(kLatencyBuckets); ++i) l.buckets[i] += seconds <= kLatencyBuckets[i] ? 1 : 0;
  ++l.count;
  l.sum += seconds;
}

void Metrics::rejected(const std::string& reason, uint64_t events) {
  std::lock_guard lock(mu_);
  rejections_[reason] += events;
}

void Metrics::refused_batch(const std::string& reason) {
  std::string line;
  {
    std::lock_guard lock(mu_);
    ++rejections_[reason];
    ++counters_["batches_rejected_total"];
    RefusalLogState& state = refusal_log_[reason];
    ++state.unlogged;
    const auto now = std::chrono::steady_clock::now();
    if (!log_ || (state.last != std::chrono::steady_clock::time_point{} && now - state.last < kRefusalLogInterval)) {
      return;
    }
    line = "refused a batch: " + reason + " (" + std::to_string(state.unlogged) +
           " refused for this reason since the last report)";
    state.last = now;
    state.unlogged = 0;
  }
  log_("warning", line);
}

void Metrics::add(const char* name, uint64_t n) {
  std::lock_guard lock(mu_);
  counters_[name] += n;
}

void Metrics::set(const std::string& name, uint64_t value) {
  std::lock_guard lock(mu_);
  (is_counter(name) ? counters_ : gauges_)[name] = value;
}

void Metrics::unset(const std::string& name) {
  std::lock_guard lock(mu_);
  gauges_.erase(name);
}

void Metrics::observe_ingest_seconds(double s) {
  std::lock_guard lock(mu_);
  ingest_seconds_sum_ += s;
  ++ingest_count_;
}

std::string Metrics::prometheus() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  const auto family = [&](const std::string& name, const char* type, const char* help) {
    out << "# HELP waymark_" << name << " " << help << "\n# TYPE waymark_" << name << " " << type << "\n";
  };
  family("build_info", "gauge", "Always 1; the collector's version as a label.");
  out << "waymark_build_info{version=\"" << kVersion << "\"} 1\n";
  family("http_requests_total", "counter", "HTTP requests by route and status.");
  for (const auto& [k, v] : requests_) out << "waymark_http_requests_total{route=\"" << k << "\"} " << v << "\n";
  for (const auto& [k, v] : counters_) {
    family(k, "counter", help_of(k));
    out << "waymark_" << k << " " << v << "\n";
  }
  for (const auto& [k, v] : gauges_) {
    family(k, "gauge", help_of(k));
    out << "waymark_" << k << " " << v << "\n";
  }
  family("rejected_total", "counter", "Refused batches (batch reasons) and events (event reasons), by reason.");
  for (const auto& [k, v] : rejections_) out << "waymark_rejected_total{reason=\"" << k << "\"} " << v << "\n";
  family("http_request_duration_seconds", "histogram",
         "Time from a request read to its answer, by route (for a batch, its commit included).");
  for (const auto& [route, l] : latency_) {
    const std::string prefix = "waymark_http_request_duration_seconds";
    for (size_t i = 0; i < std::size(kLatencyBuckets); ++i) {
      out << prefix << "_bucket{route=\"" << route << "\",le=\"" << kLatencyBuckets[i] << "\"} " << l.buckets[i]
          << "\n";
    }
    out << prefix << "_bucket{route=\"" << route << "\",le=\"+Inf\"} " << l.count << "\n"
        << prefix << "_sum{route=\"" << route << "\"} " << l.sum << "\n"
        << prefix << "_count{route=\"" << route << "\"} " << l.count << "\n";
  }
  family("ingest_seconds", "summary", "Time from a verified batch to its answer.");
  out << "waymark_ingest_seconds_sum " << ingest_seconds_sum_ << "\nwaymark_ingest_seconds_count " << ingest_count_
      << "\n";
  return out.str();
}

}  // namespace waymark::collector
