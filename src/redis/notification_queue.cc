#include "sluice/redis/stream_client.h"

namespace sluice::redis {

std::string_view notification_type_name(NotificationType type) {
  switch (type) {
    case NotificationType::kStreamAdded:
      return "StreamAdded";
    case NotificationType::kStreamExpired:
      return "StreamExpired";
    case NotificationType::kStreamDisowned:
      return "StreamDisowned";
    case NotificationType::kStreamTerminated:
      return "StreamTerminated";
  }
  return "Unknown";
}

std::optional<Notification> NotificationQueue::pop(std::stop_token stop) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, stop, [this] { return !items_.empty() || closed_; });
  if (items_.empty()) return std::nullopt;
  Notification n = std::move(items_.front());
  items_.pop_front();
  return n;
}

std::optional<Notification> NotificationQueue::pop_for(std::chrono::nanoseconds timeout,
                                                       std::stop_token stop) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, stop, timeout, [this] { return !items_.empty() || closed_; });
  if (items_.empty()) return std::nullopt;
  Notification n = std::move(items_.front());
  items_.pop_front();
  return n;
}

std::optional<Notification> NotificationQueue::try_pop() {
  std::lock_guard lock(mu_);
  if (items_.empty()) return std::nullopt;
  Notification n = std::move(items_.front());
  items_.pop_front();
  return n;
}

bool NotificationQueue::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

std::size_t NotificationQueue::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

bool NotificationQueue::push(Notification n) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    items_.push_back(std::move(n));
  }
  cv_.notify_one();
  return true;
}

bool NotificationQueue::push_last(Notification last) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    items_.push_back(std::move(last));
    closed_ = true;
  }
  cv_.notify_all();
  return true;
}

}  // namespace sluice::redis
