#include "server/response_to_wire.h"

namespace deltaserve::server {

v1::FinishReason FinishReasonToWire(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return v1::FINISH_REASON_UNSPECIFIED;
    case FinishReason::kLength: return v1::FINISH_REASON_LENGTH;
    case FinishReason::kStop: return v1::FINISH_REASON_STOP;
    case FinishReason::kEos: return v1::FINISH_REASON_EOS;
    case FinishReason::kCancelled: return v1::FINISH_REASON_CANCELLED;
    case FinishReason::kError: return v1::FINISH_REASON_ERROR;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

void LayerAccuracyToWire(const LayerAccuracy& layer, v1::LayerAccuracy* wire) {
  wire->set_layer(static_cast<uint32_t>(layer.layer));
  if (layer.anchor_sparse.has_value()) wire->set_anchor_sparse(static_cast<float>(*layer.anchor_sparse));
  if (layer.probe_sparse.has_value()) wire->set_probe_sparse(static_cast<float>(*layer.probe_sparse));
  if (layer.probe_delta.has_value()) wire->set_probe_delta(static_cast<float>(*layer.probe_delta));
  wire->set_anchors(static_cast<uint32_t>(layer.anchors));
  wire->set_probes(static_cast<uint32_t>(layer.probes));
}

}  // namespace deltaserve::server
