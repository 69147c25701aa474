#include "queue/jetstream.hpp"

#include <nats/nats.h>

#include <chrono>
#include <sstream>
#include <thread>

namespace waymark::collector::queue {

namespace {

constexpr int64_t kNanosPerMs = 1'000'000;
constexpr jsErrCode kStreamNameInUse = static_cast<jsErrCode>(10058);
constexpr jsErrCode kClusterNotAvailable = static_cast<jsErrCode>(10008);

Status unavailable(const std::string& what, natsStatus s, jsErrCode code = static_cast<jsErrCode>(0)) {
  std::string text = what + ": " + natsStatus_GetText(s);
  if (code != 0) text += std::string(" (JetStream error ") + std::to_string(static_cast<int>(code)) + ")";
  return Error(Errc::queue_unavailable, text);
}

std::vector<std::string> split_servers(const std::string& servers) {
  std::vector<std::string> out;
  std::stringstream in(servers);
  for (std::string url; std::getline(in, url, ',');) {
    if (!url.empty()) out.push_back(url);
  }
  return out;
}

}  // namespace

struct JetStream::Handles {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ~Handles() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
};

struct Delivery::Msg {
  natsMsg* m;
};

Delivery::Delivery(Msg* msg) : msg_(msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg_->m) == NATS_OK) {
    stream_sequence_ = meta->Sequence.Stream;
    delivered_ = meta->NumDelivered;
    published_ms_ = meta->Timestamp / kNanosPerMs;
    jsMsgMetaData_Destroy(meta);
  }
}

Delivery::~Delivery() {
  natsMsg_Destroy(msg_->m);
  delete msg_;
}

std::span<const uint8_t> Delivery::data() const {
  return {reinterpret_cast<const uint8_t*>(natsMsg_GetData(msg_->m)),
          static_cast<size_t>(natsMsg_GetDataLength(msg_->m))};
}

std::string_view Delivery::msg_id() const {
  const char* id = nullptr;
  return natsMsgHeader_Get(msg_->m, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr ? id : "";
}

JetStream::JetStream(StreamConfig config, std::unique_ptr<Handles> h) : config_(std::move(config)), h_(std::move(h)) {}
JetStream::~JetStream() = default;

namespace {

Status connect_to(const StreamConfig& c, natsConnection** nc) {
  natsOptions* opts = nullptr;
  if (natsStatus s = natsOptions_Create(&opts); s != NATS_OK) return unavailable("NATS options", s);
  std::vector<std::string> urls = split_servers(c.servers);
  std::vector<const char*> ptrs;
  for (const auto& u : urls) ptrs.push_back(u.c_str());
  natsStatus s = natsOptions_SetServers(opts, ptrs.data(), static_cast<int>(ptrs.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);  // a long-running node never gives up
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
  // While disconnected a publish fails at once: nothing is buffered to reach JetStream after the
  // device was told 503 (a resend would be dropped as a duplicate anyway, but the answer must be true).
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts, 0);
  if (s == NATS_OK && c.watch_only) {
    s = natsOptions_SetRetryOnFailedConnect(
        opts, true, [](natsConnection*, void*) {}, nullptr);
  }
  if (s == NATS_OK) s = natsConnection_Connect(nc, opts);
  if (s == NATS_NOT_YET_CONNECTED && c.watch_only) s = NATS_OK;  // it goes on trying in the background
  natsOptions_Destroy(opts);
  return s == NATS_OK ? Status::Ok() : unavailable("cannot connect to NATS at " + c.servers, s);
}

// Creates the stream, or updates it to `c`; JetStream's own answer.
natsStatus add_or_update_stream(jsCtx* js, const StreamConfig& c, jsErrCode* code) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {c.subject.c_str()};
  cfg.Name = c.stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = c.replicas;
  cfg.Duplicates = c.duplicate_window_ms * kNanosPerMs;
  jsStreamInfo* si = nullptr;
  natsStatus s = js_AddStream(&si, js, &cfg, nullptr, code);
  if (s != NATS_OK && *code == kStreamNameInUse) s = js_UpdateStream(&si, js, &cfg, nullptr, code);
  jsStreamInfo_Destroy(si);
  return s;
}

// JetStream answers a timeout, or "cluster not available", until its nodes have elected their leaders:
// tried again until `ready_wait_ms` has passed.
Status ensure_stream(jsCtx* js, const StreamConfig& c) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(c.ready_wait_ms);
  for (;;) {
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = add_or_update_stream(js, c, &code);
    if (s == NATS_OK) return Status::Ok();
    const bool not_ready = s == NATS_TIMEOUT || code == kClusterNotAvailable;
    if (!not_ready || std::chrono::steady_clock::now() > give_up) {
      return unavailable("cannot create stream " + c.stream, s, code);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace

Result<std::unique_ptr<JetStream>> JetStream::connect(const StreamConfig& config) {
  if (split_servers(config.servers).empty()) return Error(Errc::invalid, "no NATS server URL");
  auto h = std::make_unique<Handles>();
  if (Status s = connect_to(config, &h->nc); !s.ok()) return s;
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = config.publish_wait_ms;
  if (natsStatus s = natsConnection_JetStream(&h->js, h->nc, &o); s != NATS_OK) return unavailable("JetStream", s);
  if (!config.watch_only) {
    if (Status s = ensure_stream(h->js, config); !s.ok()) return s;
  }
  return std::unique_ptr<JetStream>(new JetStream(config, std::move(h)));
}

Result<PublishAck> JetStream::publish(std::string_view msg_id, std::span<const uint8_t> data) {
  const std::string id(msg_id);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id.c_str();
  po.ExpectStream = config_.stream.c_str();
  po.MaxWait = config_.publish_wait_ms;
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_Publish(&ack, h_->js, config_.subject.c_str(), data.data(), static_cast<int>(data.size()), &po, &code);
  if (s != NATS_OK) return unavailable("publish to " + config_.stream, s, code);
  PublishAck out{ack->Sequence, ack->Duplicate};
  jsPubAck_Destroy(ack);
  return out;
}

Result<JetStream::ConsumerState> JetStream::consumer_state(const std::string& durable) {
  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetConsumerInfo(&ci, h_->js, config_.stream.c_str(), durable.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND) {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, h_->js, config_.stream.c_str(), nullptr, &code) != NATS_OK) {
      return unavailable("stream info", s, code);
    }
    const ConsumerState out{si->State.Msgs, 0};
    jsStreamInfo_Destroy(si);
    return out;
  }
  if (s != NATS_OK) return unavailable("consumer info", s, code);
  const ConsumerState out{ci->NumPending, static_cast<uint64_t>(ci->NumAckPending)};
  jsConsumerInfo_Destroy(ci);
  return out;
}

struct Consumer::Handles {
  natsSubscription* sub = nullptr;
  std::string durable;
  ~Handles() { natsSubscription_Destroy(sub); }  // leaves the durable consumer on the server
};

Consumer::Consumer(JetStream& js, std::unique_ptr<Handles> h) : js_(js), h_(std::move(h)) {}

namespace {

// Creates the durable consumer, or brings an existing one's ack wait and in-flight limit to these
// (a restart with other settings takes effect; what is pending stays pending).
Status ensure_consumer(jsCtx* js, const std::string& stream, const std::string& durable, int64_t ack_wait_ms,
                       int max_ack_pending) {
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = durable.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.AckWait = ack_wait_ms * kNanosPerMs;
  cc.MaxAckPending = max_ack_pending;
  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&ci, js, stream.c_str(), durable.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND) {
    s = js_AddConsumer(&ci, js, stream.c_str(), &cc, nullptr, &code);
  } else if (s == NATS_OK && (ci->Config->AckWait != cc.AckWait || ci->Config->MaxAckPending != cc.MaxAckPending)) {
    jsConsumerInfo_Destroy(ci);
    ci = nullptr;
    s = js_UpdateConsumer(&ci, js, stream.c_str(), &cc, nullptr, &code);
  }
  jsConsumerInfo_Destroy(ci);
  return s == NATS_OK ? Status::Ok() : unavailable("cannot set up consumer " + durable, s, code);
}

}  // namespace
Consumer::~Consumer() = default;

Result<std::unique_ptr<Consumer>> Consumer::open(JetStream& js, const std::string& durable, int64_t ack_wait_ms,
                                                 int max_ack_pending) {
  auto h = std::make_unique<Handles>();
  h->durable = durable;
  if (Status s = ensure_consumer(js.h_->js, js.config_.stream, h->durable, ack_wait_ms, max_ack_pending); !s.ok()) {
    return s;
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = js.config_.stream.c_str();
  so.Consumer = h->durable.c_str();  // bind to it as configured
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_PullSubscribe(&h->sub, js.h_->js, js.config_.subject.c_str(), h->durable.c_str(), nullptr, &so, &code);
  if (s != NATS_OK) return unavailable("cannot consume " + js.config_.stream + " as " + durable, s, code);
  return std::unique_ptr<Consumer>(new Consumer(js, std::move(h)));
}

Result<JetStream::ConsumerState> Consumer::state() {
  return js_.consumer_state(h_->durable);
}

Result<std::vector<std::unique_ptr<Delivery>>> Consumer::fetch(int max, int64_t timeout_ms) {
  natsMsgList list{};
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_Fetch(&list, h_->sub, max, timeout_ms, &code);
  std::vector<std::unique_ptr<Delivery>> out;
  if (s == NATS_TIMEOUT) return out;
  if (s != NATS_OK) return unavailable("fetch from " + js_.config_.stream, s, code);
  for (int i = 0; i < list.Count; ++i) {
    out.push_back(std::unique_ptr<Delivery>(new Delivery(new Delivery::Msg{list.Msgs[i]})));
    list.Msgs[i] = nullptr;  // owned by the Delivery now
  }
  natsMsgList_Destroy(&list);
  return out;
}

Status Consumer::ack(Delivery& d, bool confirm) {
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = confirm ? natsMsg_AckSync(d.msg_->m, nullptr, &code) : natsMsg_Ack(d.msg_->m, nullptr);
  return s == NATS_OK ? Status::Ok() : unavailable("ack on " + js_.config_.stream, s, code);
}

}  // namespace waymark::collector::queue
