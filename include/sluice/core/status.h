// Status: the outcome of an operation that can fail, returned at every sluice
// API boundary instead of throwing.
//
// A Status is OK, or carries a code, a message that names the cause, and
// whether retrying the same operation may succeed. Copying a Status is cheap
// (the error details are shared and immutable); an OK Status holds nothing.
//
//   Status s = table.update(...);
//   if (!s.ok()) {
//     if (s.retryable()) { ...back off and try again... }
//     log.warn("update failed", {{"error", s.to_string()}});
//   }
#ifndef SLUICE_CORE_STATUS_H_
#define SLUICE_CORE_STATUS_H_

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

namespace sluice {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument,     // bad configuration or input; fixing the call is the cure
  kNotFound,            // the stream, table, key or object does not exist
  kAlreadyExists,       // creating something that exists
  kConditionFailed,     // a conditional write lost (DynamoDB condition, CAS script)
  kFailedPrecondition,  // the state does not allow this now (e.g. checkpoint past delivery)
  kThrottled,           // the service asked us to slow down
  kUnavailable,         // transient: 5xx, connection refused or reset
  kTimeout,             // a deadline passed
  kCancelled,           // stopped by the caller (stop token, shutdown)
  kExpiredIterator,     // a Kinesis shard iterator aged out
  kLeaseLost,           // another worker owns the shard now
  kCorruption,          // data from outside is malformed (record, reply, file)
  kPermissionDenied,    // credentials missing, invalid or not allowed
  kResourceExhausted,   // a local bound was hit (buffer full, quota)
  kIOError,             // local I/O failed (files, sockets)
  kInternal,            // a bug in sluice
};

// "InvalidArgument", "Throttled", ...
std::string_view status_code_name(StatusCode code);

// Whether errors of this code are retryable unless said otherwise: throttling,
// unavailability, timeouts and expired iterators are; the rest are not.
bool retryable_by_default(StatusCode code);

class [[nodiscard]] Status {
 public:
  // OK.
  Status() noexcept = default;
  // An error (or OK if `code` is kOk, in which case message and retryable are dropped).
  Status(StatusCode code, std::string message, bool retryable);
  Status(StatusCode code, std::string message)
      : Status(code, std::move(message), retryable_by_default(code)) {}

  static Status ok_status() { return Status(); }
  static Status invalid_argument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status not_found(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status already_exists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status condition_failed(std::string msg) {
    return {StatusCode::kConditionFailed, std::move(msg)};
  }
  static Status failed_precondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  static Status throttled(std::string msg) { return {StatusCode::kThrottled, std::move(msg)}; }
  static Status unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status timeout(std::string msg) { return {StatusCode::kTimeout, std::move(msg)}; }
  static Status cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status expired_iterator(std::string msg) {
    return {StatusCode::kExpiredIterator, std::move(msg)};
  }
  static Status lease_lost(std::string msg) { return {StatusCode::kLeaseLost, std::move(msg)}; }
  static Status corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status permission_denied(std::string msg) {
    return {StatusCode::kPermissionDenied, std::move(msg)};
  }
  static Status resource_exhausted(std::string msg) {
    return {StatusCode::kResourceExhausted, std::move(msg)};
  }
  static Status io_error(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  std::string_view message() const { return rep_ ? std::string_view(rep_->message) : ""; }
  bool retryable() const { return rep_ && rep_->retryable; }

  // The same error with "context: " put before the message.
  Status with_context(std::string_view context) const;
  // The same error with a different retryable flag.
  Status with_retryable(bool retryable) const;

  // "OK", or "Throttled: <message> (retryable)".
  std::string to_string() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct Rep {
    StatusCode code;
    bool retryable;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

}  // namespace sluice

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define SLUICE_RETURN_IF_ERROR(expr)                          \
  do {                                                        \
    ::sluice::Status sluice_status_ = (expr);                 \
    if (!sluice_status_.ok()) return sluice_status_;          \
  } while (false)

// The same, for coroutines.
#define SLUICE_CO_RETURN_IF_ERROR(expr)                       \
  do {                                                        \
    ::sluice::Status sluice_status_ = (expr);                 \
    if (!sluice_status_.ok()) co_return sluice_status_;       \
  } while (false)

#endif  // SLUICE_CORE_STATUS_H_
