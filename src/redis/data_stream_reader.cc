#include "sluice/redis/data_stream_reader.h"

#include <pthread.h>
#include <unistd.h>

#include "sluice/redis/client.h"
#include "sluice/redis/connection.h"

namespace sluice::redis {

Status DataStreamReaderOptions::validate() const {
  if (mode == Mode::kCheckpoint && checkpoint_prefix.empty()) {
    return Status::invalid_argument("DataStreamReaderOptions.checkpoint_prefix must not be empty");
  }
  if (checkpoint_ttl.count() < 0)
    return Status::invalid_argument("DataStreamReaderOptions.checkpoint_ttl must be >= 0");
  if (start_id != "0" && start_id != "$") {
    return Status::invalid_argument(
        "DataStreamReaderOptions.start_id must be \"0\" or \"$\", got '" + start_id + "'");
  }
  if (batch_size <= 0)
    return Status::invalid_argument("DataStreamReaderOptions.batch_size must be > 0");
  if (block_time.count() <= 0)
    return Status::invalid_argument("DataStreamReaderOptions.block_time must be > 0");
  Status retry = handler_retry.validate();
  if (!retry.ok()) return retry.with_context("DataStreamReaderOptions.handler_retry");
  return Status();
}

Result<std::unique_ptr<DataStreamReader>> DataStreamReader::create(
    std::shared_ptr<RedisClient> redis, std::string service, DataStreamReaderOptions options,
    BatchHandler handler, ErrorHandler on_error) {
  if (!redis) return Status::invalid_argument("DataStreamReader: no RedisClient given");
  if (service.empty()) return Status::invalid_argument("DataStreamReader: service name is empty");
  if (!handler) return Status::invalid_argument("DataStreamReader: no handler given");
  SLUICE_RETURN_IF_ERROR(options.validate());
  if (options.group.empty()) options.group = service + "-data";
  if (options.consumer.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
    options.consumer = "reader-" + std::string(host) + "-" + std::to_string(::getpid());
  }
  std::unique_ptr<DataStreamReader> reader(
      new DataStreamReader(std::move(redis), std::move(service), std::move(options),
                           std::move(handler), std::move(on_error)));
  reader->thread_ = std::jthread([r = reader.get()] { r->run(); });
  pthread_setname_np(reader->thread_.native_handle(), "sluice-reader");
  return reader;
}

DataStreamReader::DataStreamReader(std::shared_ptr<RedisClient> redis, std::string service,
                                   DataStreamReaderOptions options, BatchHandler handler,
                                   ErrorHandler on_error)
    : redis_(std::move(redis)),
      service_(std::move(service)),
      options_(std::move(options)),
      handler_(std::move(handler)),
      on_error_(std::move(on_error)),
      log_(with_fields(options_.logger ? options_.logger : make_noop_logger(),
                       {{"component", "redis.reader"}, {"service", service_}})),
      clock_(options_.clock ? options_.clock : &Clock::real()) {
  auto& m = registry_or_global(options_.metrics);
  entries_ = &m.counter("sluice_redis_reader_entries_total",
                        "Data stream entries handled successfully", {"service"})
                  .with({service_});
  failures_ = &m.counter("sluice_redis_reader_handler_failures_total", "Handler calls that failed",
                         {"service"})
                   .with({service_});
  streams_gauge_ = &m.gauge("sluice_redis_reader_streams", "Data streams being read", {"service"})
                        .with({service_});
}

DataStreamReader::~DataStreamReader() {
  stop();
}

void DataStreamReader::stop() {
  stop_.request_stop();
  {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

std::string DataStreamReader::checkpoint_key(std::string_view stream) const {
  return options_.checkpoint_prefix + ":" + service_ + ":" + std::string(stream);
}

Status DataStreamReader::add(std::string_view stream) {
  if (stream.empty()) return Status::invalid_argument("DataStreamReader::add: empty stream name");
  std::string position;
  if (options_.mode == DataStreamReaderOptions::Mode::kCheckpoint) {
    auto saved = redis_->command({"GET", checkpoint_key(stream)});
    if (!saved.ok())
      return saved.status().with_context("reading the checkpoint of " + std::string(stream));
    if (saved->is_string()) {
      position = saved->str();
    } else if (options_.start_id == "$") {
      // Resolve "$" now, so entries added between two reads are not skipped.
      auto last = redis_->command({"XREVRANGE", std::string(stream), "+", "-", "COUNT", "1"});
      if (!last.ok()) return last.status();
      position = last->size() > 0 ? (*last)[0][0].str() : "0-0";
    } else {
      position = "0-0";
    }
  } else {
    auto created = redis_->call(
        {"XGROUP", "CREATE", std::string(stream), options_.group, options_.start_id, "MKSTREAM"});
    if (!created.ok()) return created.status();
    if (created->is_error() && created->error_code() != "BUSYGROUP") {
      return reply_error_status(*created, "XGROUP CREATE " + std::string(stream));
    }
    position = "0";  // first what this consumer left pending, then new entries
  }
  std::lock_guard lock(mu_);
  positions_[std::string(stream)] = position;
  streams_gauge_->set(static_cast<double>(positions_.size()));
  cv_.notify_all();
  log_->debug("reading stream", {{"stream", stream}, {"from", position}});
  return Status();
}

void DataStreamReader::remove(std::string_view stream) {
  std::unique_lock lock(mu_);
  auto it = positions_.find(stream);
  if (it != positions_.end()) positions_.erase(it);
  streams_gauge_->set(static_cast<double>(positions_.size()));
  cv_.wait(lock, [&] { return busy_ != stream || std::this_thread::get_id() == thread_.get_id(); });
}

std::vector<std::string> DataStreamReader::streams() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [s, _] : positions_) out.push_back(s);
  return out;
}

Result<std::string> DataStreamReader::checkpoint(std::string_view stream) {
  auto r = redis_->command({"GET", checkpoint_key(stream)});
  if (!r.ok()) return r.status();
  return r->is_string() ? r->str() : std::string();
}

Status DataStreamReader::forget(std::string_view stream) {
  Result<Reply> r = options_.mode == DataStreamReaderOptions::Mode::kCheckpoint
                        ? redis_->command({"DEL", checkpoint_key(stream)})
                        : redis_->call({"XGROUP", "DESTROY", std::string(stream), options_.group});
  return r.ok() ? Status() : r.status();
}

Status DataStreamReader::handle(const std::string& stream, const std::vector<StreamEntry>& batch) {
  Backoff backoff(options_.handler_retry);
  while (true) {
    Status s;
    try {
      s = handler_(stream, batch);
    } catch (const std::exception& e) {
      s = Status::internal(std::string("handler threw: ") + e.what());
    } catch (...) {
      s = Status::internal("handler threw a non-standard exception");
    }
    if (s.ok()) return s;
    failures_->inc();
    auto delay = backoff.next();
    if (!delay) return s;
    log_->warn("handler failed; retrying",
               {{"stream", stream}, {"error", s}, {"retry_in", *delay}});
    if (!clock_->sleep_for(*delay, stop_.get_token())) return Status::cancelled("reader stopping");
    std::lock_guard lock(mu_);
    if (positions_.find(stream) == positions_.end()) return Status::cancelled("stream removed");
  }
}

void DataStreamReader::run() {
  const bool group_mode = options_.mode == DataStreamReaderOptions::Mode::kConsumerGroup;
  const std::string count = std::to_string(options_.batch_size);
  const std::string block = std::to_string(options_.block_time.count());
  std::unique_ptr<Connection> conn;
  Backoff reconnect(RetryPolicy::exponential(std::chrono::milliseconds(100),
                                             std::chrono::seconds(5), RetryPolicy::kUnlimited));
  auto st = stop_.get_token();
  auto pause = [&](const Status& why) {
    auto delay = reconnect.next();
    log_->warn("reading data streams failed; retrying", {{"error", why}, {"retry_in", *delay}});
    clock_->sleep_for(*delay, st);
  };
  while (!st.stop_requested()) {
    std::vector<std::pair<std::string, std::string>> snapshot;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.block_time,
                   [&] { return !positions_.empty() || st.stop_requested(); });
      for (const auto& [s, p] : positions_) snapshot.emplace_back(s, p);
    }
    if (snapshot.empty() || st.stop_requested()) continue;
    if (!conn || conn->broken()) {
      conn.reset();
      auto opened = Connection::open(redis_->connection_options());
      if (!opened.ok()) {
        pause(opened.status());
        continue;
      }
      conn = std::move(*opened);
    }
    Command cmd;
    if (group_mode) {
      // Streams still re-reading their pending entries go first, without blocking.
      std::vector<std::pair<std::string, std::string>> pending;
      for (const auto& sp : snapshot) {
        if (sp.second == "0") pending.push_back(sp);
      }
      const bool replay = !pending.empty();
      if (replay) snapshot = pending;
      cmd = {"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT", count};
      if (!replay) {
        cmd.push_back("BLOCK");
        cmd.push_back(block);
      }
    } else {
      cmd = {"XREAD", "COUNT", count, "BLOCK", block};
    }
    cmd.push_back("STREAMS");
    for (const auto& sp : snapshot) cmd.push_back(sp.first);
    for (const auto& sp : snapshot) cmd.push_back(group_mode && sp.second != "0" ? ">" : sp.second);
    auto reply =
        conn->call(cmd, options_.block_time + redis_->connection_options().command_timeout);
    if (!reply.ok()) {
      conn.reset();
      pause(reply.status());
      continue;
    }
    if (reply->is_error()) {
      if (group_mode && reply->error_code() == "NOGROUP") {
        // A stream (and its group) vanished: make them again.
        for (const auto& sp : snapshot) {
          (void)conn->call({"XGROUP", "CREATE", sp.first, options_.group, "0", "MKSTREAM"});
        }
        continue;
      }
      pause(reply_error_status(*reply, cmd.front()));
      continue;
    }
    reconnect.reset();
    if (!reply->is_array()) continue;  // nothing new within the block time
    for (const Reply& per_stream : reply->elements()) {
      if (per_stream.size() < 2 || st.stop_requested()) continue;
      const std::string stream = per_stream[0].str();
      std::vector<StreamEntry> batch;
      std::vector<std::string> deleted;  // pending entries deleted meanwhile (group mode)
      for (const Reply& e : per_stream[1].elements()) {
        if (e.size() < 2) continue;
        if (!e[1].is_array()) {
          deleted.push_back(e[0].str());
          continue;
        }
        StreamEntry entry;
        entry.id = e[0].str();
        for (std::size_t i = 0; i + 1 < e[1].size(); i += 2)
          entry.fields.emplace_back(e[1][i].str(), e[1][i + 1].str());
        batch.push_back(std::move(entry));
      }
      {
        std::lock_guard lock(mu_);
        auto it = positions_.find(stream);
        if (it == positions_.end()) continue;  // removed meanwhile
        if (group_mode && it->second == "0" && batch.empty() && deleted.empty()) {
          it->second = ">";  // pending entries all re-read
          continue;
        }
        busy_ = stream;
      }
      Status handled = batch.empty() ? Status() : handle(stream, batch);
      Status acked;
      if (handled.ok()) {
        const std::string last = batch.empty() ? std::string() : batch.back().id;
        if (group_mode) {
          Command ack{"XACK", stream, options_.group};
          for (const auto& e : batch) ack.push_back(e.id);
          for (const auto& id : deleted) ack.push_back(id);
          if (ack.size() > 3) {
            auto r = conn->command(ack);
            if (!r.ok()) acked = r.status();
          }
        } else if (!last.empty()) {
          Command save{"SET", checkpoint_key(stream), last};
          if (options_.checkpoint_ttl.count() > 0) {
            save.push_back("PX");
            save.push_back(std::to_string(options_.checkpoint_ttl.count()));
          }
          auto r = conn->command(save);
          if (!r.ok()) acked = r.status();
        }
        if (acked.ok()) entries_->inc(static_cast<double>(batch.size()));
        std::lock_guard lock(mu_);
        auto it = positions_.find(stream);
        if (it != positions_.end() && !group_mode && acked.ok() && !last.empty()) it->second = last;
      } else if (handled.code() != StatusCode::kCancelled) {
        log_->error("handler kept failing; giving the stream up at its last checkpoint",
                    {{"stream", stream}, {"error", handled}});
        {
          std::lock_guard lock(mu_);
          auto it = positions_.find(stream);
          if (it != positions_.end()) positions_.erase(it);
          streams_gauge_->set(static_cast<double>(positions_.size()));
        }
        if (on_error_) on_error_(stream, handled);
      }
      if (!acked.ok()) {
        log_->warn("could not record progress; the batch will be delivered again",
                   {{"stream", stream}, {"error", acked}});
        conn.reset();
      }
      {
        std::lock_guard lock(mu_);
        busy_.clear();
      }
      cv_.notify_all();
      if (!conn) break;
    }
  }
}

}  // namespace sluice::redis
