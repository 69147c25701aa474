#include "common/wire/event_codec.hpp"

#include "waymark/wire/v1/event_generated.h"

namespace waymark::detail {

namespace w = waymark::wire::v1;

void encode_event(const EventDraft& draft, const EventStamp& stamp, std::vector<uint8_t>& out) {
  thread_local flatbuffers::FlatBufferBuilder fbb(1024);
  fbb.Clear();

  std::vector<flatbuffers::Offset<w::Identifier>> ids;
  ids.reserve(stamp.identifiers.size());
  for (size_t i = 0; i < stamp.identifiers.size(); ++i) {
    const IdentifierRef& ref = stamp.identifiers[i];
    const auto pseudonym = fbb.CreateVector(ref.pseudonym.data(), ref.pseudonym.size());
    const bool asserted = !draft.identity_assertion.empty() && i == draft.asserted_index;
    ids.push_back(w::CreateIdentifier(fbb, static_cast<w::IdKind>(ref.kind), kNormalizationVersion, ref.epoch,
                                      pseudonym, ref.linking,
                                      asserted ? fbb.CreateVector(draft.identity_assertion) : 0));
  }
  std::vector<flatbuffers::Offset<w::Property>> props;
  props.reserve(draft.properties.size());
  for (const Property& p : draft.properties) {
    const auto key = fbb.CreateString(p.key);
    const auto s = p.kind == Property::Kind::String ? fbb.CreateString(p.s) : 0;
    props.push_back(w::CreateProperty(fbb, key, static_cast<w::PropertyKind>(p.kind), s, p.i, p.d, p.b));
  }
  flatbuffers::Offset<w::Revenue> revenue = 0;
  if (draft.revenue) {
    revenue = w::CreateRevenue(fbb, draft.revenue->amount_minor, fbb.CreateString(draft.revenue->currency));
  }
  flatbuffers::Offset<w::Campaign> campaign = 0;
  if (draft.campaign) {
    const Campaign& c = *draft.campaign;
    campaign = w::CreateCampaign(fbb, fbb.CreateString(c.source), fbb.CreateString(c.medium), fbb.CreateString(c.name),
                                 fbb.CreateString(c.content));
  }
  flatbuffers::Offset<w::ConsentChange> consent = 0;
  if (stamp.consent != nullptr) {
    const ConsentRecord& r = *stamp.consent;
    consent = w::CreateConsentChange(
        fbb, static_cast<w::Purpose>(r.purpose), r.granted, fbb.CreateString(r.policy_version), r.seq,
        fbb.CreateVector(r.prev_hash.data(), r.prev_hash.size()), fbb.CreateVector(r.hash.data(), r.hash.size()),
        fbb.CreateVector(r.signature.data(), r.signature.size()),
        stamp.device_public_key != nullptr ? fbb.CreateVector(stamp.device_public_key, 32) : 0, r.time_ms);
  }
  const auto event = w::CreateEvent(
      fbb, fbb.CreateVector(stamp.id.data(), stamp.id.size()), stamp.sequence, static_cast<w::EventType>(draft.type),
      fbb.CreateString(draft.name), static_cast<w::Channel>(draft.channel), stamp.occurred_at_ms, stamp.monotonic_ms,
      static_cast<w::Purpose>(draft.purpose), fbb.CreateVector(stamp.consent_head.data(), stamp.consent_head.size()),
      fbb.CreateString(stamp.policy_version), fbb.CreateVector(stamp.slot.data(), stamp.slot.size()),
      fbb.CreateVector(ids), fbb.CreateVector(props), revenue, campaign, consent,
      draft.erasure_token.empty() ? 0 : fbb.CreateVector(draft.erasure_token));
  w::FinishEventBuffer(fbb, event);
  out.assign(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

bool verify_event(const uint8_t* bytes, size_t len) {
  if (len > WAYMARK_MAX_EVENT_BYTES) return false;  // size limit before the verifier reads anything
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 16;
  opts.max_tables = 4096;
  flatbuffers::Verifier verifier(bytes, len, opts);
  return w::VerifyEventBuffer(verifier);
}

}  // namespace waymark::detail
