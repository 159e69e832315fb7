#include "sluice/core/status.h"

#include <cstdio>
#include <cstdlib>
#include <ostream>

#include "sluice/core/result.h"

namespace sluice {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kAlreadyExists: return "AlreadyExists";
    case StatusCode::kConditionFailed: return "ConditionFailed";
    case StatusCode::kFailedPrecondition: return "FailedPrecondition";
    case StatusCode::kThrottled: return "Throttled";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kTimeout: return "Timeout";
    case StatusCode::kCancelled: return "Cancelled";
    case StatusCode::kExpiredIterator: return "ExpiredIterator";
    case StatusCode::kLeaseLost: return "LeaseLost";
    case StatusCode::kCorruption: return "Corruption";
    case StatusCode::kPermissionDenied: return "PermissionDenied";
    case StatusCode::kResourceExhausted: return "ResourceExhausted";
    case StatusCode::kIOError: return "IOError";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

bool retryable_by_default(StatusCode code) {
  switch (code) {
    case StatusCode::kThrottled:
    case StatusCode::kUnavailable:
    case StatusCode::kTimeout:
    case StatusCode::kExpiredIterator:
      return true;
    default:
      return false;
  }
}

Status::Status(StatusCode code, std::string message, bool retryable) {
  if (code != StatusCode::kOk) {
    rep_ = std::make_shared<const Rep>(Rep{code, retryable, std::move(message)});
  }
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string msg;
  msg.reserve(context.size() + 2 + rep_->message.size());
  msg.append(context).append(": ").append(rep_->message);
  return Status(rep_->code, std::move(msg), rep_->retryable);
}

Status Status::with_retryable(bool retryable) const {
  if (ok()) return *this;
  return Status(rep_->code, rep_->message, retryable);
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(status_code_name(rep_->code));
  if (!rep_->message.empty()) out.append(": ").append(rep_->message);
  if (rep_->retryable) out.append(" (retryable)");
  return out;
}

std::ostream& operator<<(std::ostream& os, const Status& status) {
  return os << status.to_string();
}

namespace result_internal {
void die_on_bad_access(const Status& status) {
  std::fprintf(stderr, "sluice: value() of a failed Result: %s\n", status.to_string().c_str());
  std::abort();
}
}  // namespace result_internal

}  // namespace sluice
