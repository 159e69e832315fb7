// DataStreamReader: reads the data streams a RedisStreamClient assigned to
// this consumer and hands their entries to a handler, at least once, so
// users do not write the read/checkpoint loop themselves.
//
//   auto reader = DataStreamReader::create(redis, "my-service", {}, handler);
//   on StreamAdded / a successful claim():  reader->add(name);
//   on StreamDisowned:                       reader->remove(name);
//   when the handler has seen the end:       reader->remove(name); client->done_stream(name);
//
// Two ways to remember progress (DataStreamReaderOptions::mode):
//   kCheckpoint     XREAD from the last processed id, kept in Redis at
//                   <checkpoint_prefix>:<service>:<stream> (SET after each
//                   handled batch). A new owner of the stream resumes there.
//   kConsumerGroup  XREADGROUP in a per-stream consumer group; entries are
//                   XACKed after the handler returns OK, and a new owner first
//                   re-reads what this consumer left pending.
// Either way an entry is acknowledged only after the handler succeeded: a
// crash in between means it is delivered again (at-least-once).
//
// One thread reads every stream added (a single XREAD over all of them), and
// runs the handler on that thread, one batch at a time, in stream order.
#ifndef SLUICE_REDIS_DATA_STREAM_READER_H_
#define SLUICE_REDIS_DATA_STREAM_READER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/core/backoff.h"
#include "sluice/core/clock.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::redis {

class RedisClient;

// One entry of a data stream.
struct StreamEntry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
};

struct DataStreamReaderOptions {
  enum class Mode { kCheckpoint, kConsumerGroup };
  Mode mode = Mode::kCheckpoint;
  // kCheckpoint: key prefix of the checkpoints and their TTL (0 = none).
  std::string checkpoint_prefix = "sluice:redis:checkpoint";
  std::chrono::milliseconds checkpoint_ttl{0};
  // Where a stream without a checkpoint (or a new group) starts: "0" = its
  // first entry, "$" = only entries added from now on.
  std::string start_id = "0";
  // kConsumerGroup: the group on every data stream (empty = "<service>-data")
  // and this consumer's name in it (empty = "reader-<hostname>-<pid>"; use
  // the RedisStreamClient's id()).
  std::string group{};
  std::string consumer{};
  // Entries per handler call, at most.
  int batch_size = 100;
  // XREAD BLOCK time; also how long add()/remove() may take to be noticed.
  std::chrono::milliseconds block_time{500};
  // Retries of a failing handler before the stream is given up (on_error,
  // then removed; its progress stays at the last handled batch).
  RetryPolicy handler_retry =
      RetryPolicy::exponential(std::chrono::milliseconds(100), std::chrono::seconds(10), 3);
  // Null = no-op logger / MetricsRegistry::global() / Clock::real().
  std::shared_ptr<Logger> logger{};
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;

  Status validate() const;
};

class DataStreamReader {
 public:
  // Handles one batch of one stream; OK acknowledges it. Exceptions count as failures.
  using BatchHandler =
      std::function<Status(std::string_view stream, const std::vector<StreamEntry>& batch)>;
  // A stream was given up after the handler kept failing.
  using ErrorHandler = std::function<void(std::string_view stream, const Status& error)>;

  static Result<std::unique_ptr<DataStreamReader>> create(std::shared_ptr<RedisClient> redis,
                                                          std::string service,
                                                          DataStreamReaderOptions options,
                                                          BatchHandler handler,
                                                          ErrorHandler on_error = {});
  // stop()
  ~DataStreamReader();
  DataStreamReader(const DataStreamReader&) = delete;
  DataStreamReader& operator=(const DataStreamReader&) = delete;

  // Starts reading `stream` from its checkpoint (or the group's position).
  Status add(std::string_view stream);
  // Stops reading `stream`; once it returns the handler is not running for
  // it and will not be called for it again. Never call it from the handler.
  void remove(std::string_view stream);
  std::vector<std::string> streams() const;
  // The checkpoint of `stream` (kCheckpoint mode), or empty if none.
  Result<std::string> checkpoint(std::string_view stream);
  // Deletes the checkpoint (or, in group mode, the group) of a finished stream.
  Status forget(std::string_view stream);
  // Stops the reading thread. Idempotent.
  void stop();

 private:
  DataStreamReader(std::shared_ptr<RedisClient> redis, std::string service,
                   DataStreamReaderOptions options, BatchHandler handler, ErrorHandler on_error);
  void run();
  std::string checkpoint_key(std::string_view stream) const;
  // Runs the handler with retries; false if it kept failing (or stopping).
  Status handle(const std::string& stream, const std::vector<StreamEntry>& batch);

  std::shared_ptr<RedisClient> redis_;
  std::string service_;
  DataStreamReaderOptions options_;
  BatchHandler handler_;
  ErrorHandler on_error_;
  std::shared_ptr<Logger> log_;
  const Clock* clock_;
  Counter* entries_;
  Counter* failures_;
  Gauge* streams_gauge_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Stream -> position: the last handled id (checkpoint mode), or "0" while
  // re-reading this consumer's pending entries and ">" after (group mode).
  std::map<std::string, std::string, std::less<>> positions_;
  std::string busy_;  // the stream whose batch the handler is running
  std::stop_source stop_;
  std::jthread thread_;
};

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_DATA_STREAM_READER_H_
