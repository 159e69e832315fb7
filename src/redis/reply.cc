#include "sluice/redis/reply.h"

#include <charconv>

namespace sluice::redis {

Reply Reply::integer(long long v) {
  Reply r;
  r.type_ = Type::kInteger;
  r.integer_ = v;
  return r;
}

Reply Reply::array(std::vector<Reply> elements) {
  Reply r;
  r.type_ = Type::kArray;
  r.elements_ = std::move(elements);
  return r;
}

std::string_view Reply::error_code() const {
  if (type_ != Type::kError) return {};
  std::string_view s = str_;
  return s.substr(0, s.find(' '));
}

std::optional<std::string> Reply::as_text() const {
  if (type_ == Type::kString || type_ == Type::kStatus) return str_;
  if (type_ == Type::kInteger) return std::to_string(integer_);
  return std::nullopt;
}

std::optional<long long> Reply::as_integer() const {
  if (type_ == Type::kInteger) return integer_;
  if (type_ == Type::kString || type_ == Type::kStatus) {
    long long v = 0;
    auto [p, ec] = std::from_chars(str_.data(), str_.data() + str_.size(), v);
    if (ec == std::errc() && p == str_.data() + str_.size()) return v;
  }
  return std::nullopt;
}

std::string Reply::debug_string() const {
  switch (type_) {
    case Type::kNil:
      return "nil";
    case Type::kString:
      return "\"" + str_ + "\"";
    case Type::kStatus:
      return str_;
    case Type::kInteger:
      return "(integer) " + std::to_string(integer_);
    case Type::kError:
      return "(error) " + str_;
    case Type::kArray: {
      std::string out = "[";
      for (std::size_t i = 0; i < elements_.size(); ++i) {
        if (i) out += ", ";
        out += elements_[i].debug_string();
      }
      return out + "]";
    }
  }
  return "?";
}

Status reply_error_status(const Reply& reply, std::string_view context) {
  if (!reply.is_error()) return Status();
  std::string message = context.empty() ? std::string("redis: ") : std::string(context) + ": ";
  message += reply.str();
  const std::string_view code = reply.error_code();
  if (code == "NOSCRIPT" || code == "NOGROUP") return Status::not_found(std::move(message));
  if (code == "BUSYGROUP") return Status::already_exists(std::move(message));
  if (code == "NOAUTH" || code == "WRONGPASS" || code == "NOPERM") {
    return Status::permission_denied(std::move(message));
  }
  if (code == "LOADING" || code == "BUSY" || code == "TRYAGAIN" || code == "MASTERDOWN" ||
      code == "CLUSTERDOWN" || code == "READONLY") {
    return Status::unavailable(std::move(message));
  }
  if (code == "OOM") return Status::resource_exhausted(std::move(message));
  return Status::failed_precondition(std::move(message));
}

}  // namespace sluice::redis
