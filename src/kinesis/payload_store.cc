#include "sluice/kinesis/payload_store.h"

#include "kinesis/producer_random.h"

namespace sluice::kinesis {

asio::awaitable<Status> PayloadStore::async_put(std::string key, std::string value) {
  co_return put(key, std::move(value));
}

asio::awaitable<Result<std::string>> PayloadStore::async_get(std::string key) {
  co_return get(key);
}

std::string make_payload_key(std::string_view prefix) {
  std::string key;
  if (!prefix.empty()) {
    key.append(prefix);
    key.push_back('/');
  }
  key += internal::random_uuid();
  return key;
}

Status InMemoryPayloadStore::put(const std::string& key, std::string value) {
  if (key.empty()) return Status::invalid_argument("payload store: empty key");
  std::lock_guard lock(mu_);
  objects_[key] = std::move(value);
  return Status();
}

Result<std::string> InMemoryPayloadStore::get(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return Status::not_found("claim-checked payload " + location(key) + " does not exist");
  }
  return it->second;
}

std::string InMemoryPayloadStore::location(std::string_view key) const {
  return "memory:" + std::string(key);
}

void InMemoryPayloadStore::erase(const std::string& key) {
  std::lock_guard lock(mu_);
  objects_.erase(key);
}

std::size_t InMemoryPayloadStore::size() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

std::map<std::string, std::string> InMemoryPayloadStore::snapshot() const {
  std::lock_guard lock(mu_);
  return objects_;
}

}  // namespace sluice::kinesis
