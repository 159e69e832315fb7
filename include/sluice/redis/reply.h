// Reply: one Redis reply (RESP2), owned and independent of hiredis.
//
// A Redis error reply ("-NOSCRIPT No matching script") is a Reply of type
// kError, not a failed Result: in a pipeline each command has its own
// outcome. RedisClient::command() turns error replies into a Status for the
// common single-command case (see reply_error_status()).
#ifndef SLUICE_REDIS_REPLY_H_
#define SLUICE_REDIS_REPLY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::redis {

// The words of one command: {"SET", "key", "value", "PX", "1000"}. Binary-safe.
using Command = std::vector<std::string>;

class Reply {
 public:
  enum class Type : std::uint8_t { kNil, kString, kStatus, kInteger, kError, kArray };

  Reply() = default;  // nil
  static Reply nil() { return Reply(); }
  static Reply string(std::string s) { return Reply(Type::kString, std::move(s)); }
  static Reply status(std::string s) { return Reply(Type::kStatus, std::move(s)); }
  static Reply error(std::string s) { return Reply(Type::kError, std::move(s)); }
  static Reply integer(long long v);
  static Reply array(std::vector<Reply> elements);

  Type type() const { return type_; }
  bool is_nil() const { return type_ == Type::kNil; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_status() const { return type_ == Type::kStatus; }
  bool is_integer() const { return type_ == Type::kInteger; }
  bool is_error() const { return type_ == Type::kError; }
  bool is_array() const { return type_ == Type::kArray; }

  // Text of a string, status or error reply (empty for the other types).
  const std::string& str() const { return str_; }
  // Value of an integer reply (0 for the other types).
  long long integer() const { return integer_; }
  // Elements of an array reply (empty for the other types).
  const std::vector<Reply>& elements() const { return elements_; }
  std::size_t size() const { return elements_.size(); }
  const Reply& operator[](std::size_t i) const { return elements_.at(i); }

  // The error's first word ("NOSCRIPT", "BUSYGROUP", "ERR"), empty if not an error.
  std::string_view error_code() const;
  // A string reply's text, or an integer reply rendered; nullopt otherwise.
  std::optional<std::string> as_text() const;
  // An integer reply, or a string reply holding an integer; nullopt otherwise.
  std::optional<long long> as_integer() const;
  // "OK" status replies.
  bool is_ok() const { return type_ == Type::kStatus && str_ == "OK"; }

  // A compact rendering for logs and test failures: "nil", "\"x\"", "(integer) 3", "[..]".
  std::string debug_string() const;

  friend bool operator==(const Reply&, const Reply&) = default;

 private:
  Reply(Type t, std::string s) : type_(t), str_(std::move(s)) {}
  Type type_ = Type::kNil;
  long long integer_ = 0;
  std::string str_;
  std::vector<Reply> elements_;
};

// The Status for a Redis error reply; `context` (e.g. "XGROUP CREATE") is put
// in front of the server's message. Codes: NOSCRIPT/NOGROUP -> NotFound,
// BUSYGROUP -> AlreadyExists, NOAUTH/WRONGPASS/NOPERM -> PermissionDenied,
// LOADING/BUSY/TRYAGAIN/MASTERDOWN/CLUSTERDOWN -> Unavailable (retryable),
// OOM -> ResourceExhausted, WRONGTYPE and the rest -> FailedPrecondition.
Status reply_error_status(const Reply& reply, std::string_view context = {});

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_REPLY_H_
