// A loopback collector stand-in for SDK tests: a Boost.Beast HTTP server on 127.0.0.1 that
// implements the receipt contract (open the sealed envelope, verify the device signature and
// the batch, dedupe events by id, answer a signed receipt; the same receipt for a resent batch)
// and can inject faults. The real collector (issue 5) replaces it in integration tests.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace waymark::test {

struct Fault {
  enum class Kind {
    None,
    Status,        // answer `http_status` (+ Retry-After) without processing
    ResetMidBody,  // read the headers and part of the body, then reset the connection
    LoseResponse,  // process the batch, then close the connection without answering
    Truncate,      // process, then send half of the response and close
    Forge,         // process, but sign the receipt with a key the SDK does not know
    OtherReceipt,  // answer a valid receipt for another batch
    Delay          // wait `delay_ms`, then answer normally
  };
  Kind kind = Kind::None;
  int http_status = 0;
  int retry_after_s = -1;
  int delay_ms = 0;
};

struct TlsFiles {
  std::string cert_pem;  // server certificate chain
  std::string key_pem;
};

class Receiver {
 public:
  using FaultPlan = std::function<Fault(int request_index)>;
  static constexpr uint32_t kKeyId = 7;

  explicit Receiver(FaultPlan plan = {}, std::optional<TlsFiles> tls = {});
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  std::string url() const;
  const std::array<uint8_t, 32>& public_key() const;  // Ed25519, give to the SDK with kKeyId

  // Processes one envelope as the HTTP handler does (for host-transport tests).
  int handle(const std::vector<uint8_t>& body, std::vector<uint8_t>* response);

  size_t distinct_events() const;
  size_t duplicate_events() const;
  size_t batches() const;         // distinct batch ids
  size_t resent_batches() const;  // envelopes whose batch id was already acknowledged
  size_t requests() const;
  std::vector<uint64_t> sequences_in_arrival_order() const;      // event sequence numbers
  std::vector<int64_t> sent_monotonic_in_arrival_order() const;  // each envelope's batch header
  std::vector<std::vector<uint8_t>> envelopes() const;           // raw bodies, for leak scans

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace waymark::test
