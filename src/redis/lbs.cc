#include "sluice/redis/lbs.h"

#include <simdjson.h>

#include <cctype>

#include "redis/json_util.h"
#include "sluice/redis/client.h"

namespace sluice::redis {

std::string lbs_stream_name(std::string_view service) {
  return std::string(service) + "-input";
}
std::string lbs_group_name(std::string_view service) {
  return std::string(service) + "-group";
}

std::string lock_keyspace_pattern(int db) {
  return "__keyspace@" + std::to_string(db) + "__:*" + std::string(kMutexKeySep) + "*";
}

std::string LbsInfo::mutex_key() const {
  std::string k = data_stream_name;
  k += kMutexKeySep;
  k += id_in_lbs;
  return k;
}

Result<LbsInfo> parse_mutex_key(std::string_view key) {
  // Strip "__keyspace@<db>__:" when given a keyspace channel.
  constexpr std::string_view kPrefix = "__keyspace@";
  if (key.substr(0, kPrefix.size()) == kPrefix) {
    std::size_t i = kPrefix.size();
    while (i < key.size() && std::isdigit(static_cast<unsigned char>(key[i]))) ++i;
    if (key.substr(i, 3) != "__:") {
      return Status::invalid_argument("not a keyspace channel: '" + std::string(key) + "'");
    }
    key.remove_prefix(i + 3);
  }
  const auto sep = key.find(kMutexKeySep);
  if (sep == std::string_view::npos ||
      key.find(kMutexKeySep, sep + kMutexKeySep.size()) != std::string_view::npos) {
    return Status::invalid_argument(
        "lock key must be <data stream name><MUTEX_KEY_SEP><id in LBS>, got '" + std::string(key) +
        "'");
  }
  LbsInfo info{std::string(key.substr(0, sep)), std::string(key.substr(sep + kMutexKeySep.size()))};
  if (info.data_stream_name.empty() || info.id_in_lbs.empty()) {
    return Status::invalid_argument("lock key has an empty part: '" + std::string(key) + "'");
  }
  return info;
}

Result<LbsMessage> parse_lbs_message(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err) {
    return Status::corruption(std::string("lbs-input is not valid JSON (") +
                              simdjson::error_message(err) + ")");
  }
  simdjson::dom::object obj;
  if (doc.get(obj)) return Status::corruption("lbs-input is not a JSON object");
  LbsMessage msg;
  simdjson::dom::element name;
  if (obj["DataStreamName"].get(name)) return Status::corruption("lbs-input has no DataStreamName");
  std::string_view name_text;
  if (name.get(name_text)) return Status::corruption("lbs-input DataStreamName is not a string");
  if (name_text.empty()) return Status::corruption("lbs-input DataStreamName is empty");
  if (name_text.find(kMutexKeySep) != std::string_view::npos) {
    return Status::corruption("lbs-input DataStreamName contains <MUTEX_KEY_SEP>");
  }
  msg.data_stream_name = std::string(name_text);
  simdjson::dom::element info;
  if (!obj["Info"].get(info) && !info.is_null()) {
    simdjson::dom::object info_obj;
    if (info.get(info_obj))
      return Status::corruption("lbs-input Info is neither an object nor null");
    msg.info_json = simdjson::minify(info);
    for (auto field : info_obj) {
      std::string_view sv;
      if (field.value.is_string() && !field.value.get(sv)) {
        msg.info[std::string(field.key)] = std::string(sv);
      } else {
        msg.info[std::string(field.key)] = simdjson::minify(field.value);
      }
    }
  }
  return msg;
}

Result<std::string> encode_lbs_message(std::string_view data_stream_name,
                                       std::string_view info_json) {
  if (data_stream_name.empty())
    return Status::invalid_argument("data stream name must not be empty");
  if (data_stream_name.find(kMutexKeySep) != std::string_view::npos) {
    return Status::invalid_argument("data stream name must not contain <MUTEX_KEY_SEP>");
  }
  std::string info = "null";
  if (!info_json.empty()) {
    auto obj = internal::parse_json_object(info_json);
    if (!obj.ok()) return Status::invalid_argument("info: " + std::string(obj.status().message()));
    info = obj->compact;
  }
  // Field names and order as Go's encoding/json writes notifs.LBSInputMessage.
  std::string out = "{\"DataStreamName\":";
  internal::append_json_string(out, data_stream_name);
  out += ",\"Info\":";
  out += info;
  out += "}";
  return out;
}

Result<std::string> lbs_add(RedisClient& redis, std::string_view service,
                            std::string_view data_stream_name, std::string_view info_json) {
  if (service.empty()) return Status::invalid_argument("service name must not be empty");
  SLUICE_ASSIGN_OR_RETURN(std::string message, encode_lbs_message(data_stream_name, info_json));
  const std::string stream = lbs_stream_name(service);
  auto created = redis.call({"XGROUP", "CREATE", stream, lbs_group_name(service), "$", "MKSTREAM"});
  if (!created.ok()) return created.status();
  if (created->is_error() && created->error_code() != "BUSYGROUP") {
    return reply_error_status(*created, "XGROUP CREATE " + stream);
  }
  auto id = redis.command({"XADD", stream, "*", std::string(kLbsInputField), message});
  if (!id.ok()) return id.status().with_context("XADD " + stream);
  return id->str();
}

namespace {

// XINFO replies are flat [name, value, name, value...] arrays.
const Reply* field(const Reply& r, std::string_view name) {
  for (std::size_t i = 0; i + 1 < r.size(); i += 2) {
    if (r[i].str() == name) return &r[i + 1];
  }
  return nullptr;
}

long long int_field(const Reply& r, std::string_view name) {
  const Reply* f = field(r, name);
  return f ? f->as_integer().value_or(0) : 0;
}

}  // namespace

Result<LbsStatus> lbs_status(RedisClient& redis, std::string_view service, int limit) {
  LbsStatus st;
  st.stream = lbs_stream_name(service);
  st.group = lbs_group_name(service);
  auto len = redis.command({"XLEN", st.stream});
  if (!len.ok()) return len.status();
  st.length = len->integer();

  auto groups = redis.call({"XINFO", "GROUPS", st.stream});
  if (!groups.ok()) return groups.status();
  if (groups->is_array()) {
    for (const Reply& g : groups->elements()) {
      const Reply* name = field(g, "name");
      if (name && name->str() == st.group) {
        st.group_exists = true;
        st.pending = int_field(g, "pending");
        if (const Reply* last = field(g, "last-delivered-id")) st.last_delivered_id = last->str();
      }
    }
  }
  std::map<std::string, const Reply*> pending_by_id;
  Reply pending;
  if (st.group_exists) {
    auto consumers = redis.command({"XINFO", "CONSUMERS", st.stream, st.group});
    if (!consumers.ok()) return consumers.status();
    for (const Reply& c : consumers->elements()) {
      LbsStatus::Consumer consumer;
      if (const Reply* n = field(c, "name")) consumer.name = n->str();
      consumer.pending = int_field(c, "pending");
      consumer.idle = std::chrono::milliseconds(int_field(c, "idle"));
      st.consumers.push_back(std::move(consumer));
    }
    auto p = redis.command({"XPENDING", st.stream, st.group, "-", "+", std::to_string(limit)});
    if (!p.ok()) return p.status();
    pending = std::move(*p);
    for (const Reply& e : pending.elements()) {
      if (e.size() >= 4) pending_by_id[e[0].str()] = &e;
    }
  }
  auto range = redis.command({"XRANGE", st.stream, "-", "+", "COUNT", std::to_string(limit)});
  if (!range.ok()) return range.status();
  std::vector<Command> lock_queries;
  for (const Reply& e : range->elements()) {
    LbsStatus::Entry entry;
    entry.id = e[0].str();
    const Reply& fields = e[1];
    const Reply* value = field(fields, kLbsInputField);
    if (value == nullptr) {
      entry.problem = "no lbs-input field";
    } else {
      auto msg = parse_lbs_message(value->str());
      if (msg.ok()) {
        entry.data_stream_name = msg->data_stream_name;
        entry.info_json = msg->info_json;
      } else {
        entry.problem = std::string(msg.status().message());
      }
    }
    if (auto it = pending_by_id.find(entry.id); it != pending_by_id.end()) {
      entry.owner = (*it->second)[1].str();
      entry.idle = std::chrono::milliseconds((*it->second)[2].integer());
      entry.deliveries = (*it->second)[3].integer();
    }
    if (!entry.data_stream_name.empty()) {
      const std::string key = LbsInfo{entry.data_stream_name, entry.id}.mutex_key();
      lock_queries.push_back({"GET", key});
      lock_queries.push_back({"PTTL", key});
    }
    st.entries.push_back(std::move(entry));
  }
  auto locks = redis.pipeline(lock_queries);
  if (!locks.ok()) return locks.status();
  std::size_t i = 0;
  for (auto& entry : st.entries) {
    if (entry.data_stream_name.empty()) continue;
    const Reply& holder = (*locks)[i++];
    const Reply& ttl = (*locks)[i++];
    if (holder.is_string()) {
      entry.lock_holder = holder.str();
      entry.lock_ttl = std::chrono::milliseconds(std::max(0LL, ttl.integer()));
    }
  }
  return st;
}

}  // namespace sluice::redis
