// The Kinesis producer against kinesalite and s3rver: every payload pipeline
// read back byte for byte in key order (GetRecords on every shard from
// TRIM_HORIZON, deaggregate(), decode_payload()), partial failures and
// throttling through proxies, shutdown, validation, resharding, the npm
// aws-kinesis-agg cross-check, the seed's KinesisWriter, and the CLI.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "producer_partial_proxy.h"
#include "sluice/aws/kinesis_client.h"
#include "sluice/aws/s3_client.h"
#include "sluice/core/base64.h"
#include "sluice/core/checkpoint_store.h"
#include "sluice/core/executor.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/consumer.h"
#include "sluice/kinesis/hash_key.h"
#include "sluice/kinesis/kinesis_writer.h"
#include "sluice/kinesis/payload_codec.h"
#include "sluice/kinesis/producer.h"
#include "sluice/kinesis/producer_json.h"
#include "support/backends.h"
#include "support/fault_proxy.h"
#include "support/test_util.h"

namespace sluice::kinesis {
namespace {

using namespace std::chrono_literals;
using sluice::testing::Backends;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

aws::ClientOptions kinesalite(const std::string& endpoint = Backends::get().kinesis_endpoint) {
  aws::ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = endpoint;
  o.credentials = aws::make_static_credentials("AKIDEXAMPLE", "secret");
  return o;
}

aws::ClientOptions s3rver() {
  aws::ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = Backends::get().s3_endpoint;
  o.credentials = aws::make_static_credentials("S3RVER", "S3RVER");
  return o;
}

// A user record as a consumer sees it.
struct ReadBack {
  std::string shard_id{};
  std::string sequence_number{};
  std::optional<std::uint64_t> sub{};
  std::string partition_key{};
  std::string explicit_hash_key{};
  std::string data{};    // decoded payload
  bool in_range = true;  // its hash key lies in the shard's range
};

struct KinesisRecordCopy {
  std::string shard_id;
  std::string sequence_number;
  std::string partition_key;
  std::string data;
};

struct Sent {
  std::string partition_key;
  std::string explicit_hash_key;
  std::string data;
  std::future<Result<PutResult>> result;
};

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string text(std::mt19937_64& rng, std::size_t n) {
  static constexpr char kWords[] = "kinesis shard record aggregate sequence lease ";
  std::string s;
  while (s.size() < n) s.push_back(kWords[rng() % (sizeof kWords - 1)]);
  return s;
}

class ProducerIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = aws::KinesisClient::create(kinesalite());
    ASSERT_TRUE(k.ok()) << k.status();
    kinesis_ = std::move(*k);
    auto s3 = aws::S3Client::create(s3rver());
    ASSERT_TRUE(s3.ok()) << s3.status();
    s3_ = std::move(*s3);
    auto store = S3PayloadStore::create(s3_, {.bucket = Backends::get().s3_bucket});
    ASSERT_TRUE(store.ok());
    store_ = *store;
  }
  void TearDown() override {
    for (const auto& s : streams_) (void)run(kinesis_->delete_stream({.name = s}));
  }
  template <class T>
  T run(asio::awaitable<T> task) {
    return run_blocking(pool_.executor(), std::move(task));
  }
  std::string create_stream(int shards) {
    std::string name = sluice::testing::unique_name("prod");
    EXPECT_TRUE(run(kinesis_->create_stream(name, shards)).ok());
    EXPECT_TRUE(run(kinesis_->wait_until_active({.name = name}, 10s)).ok());
    streams_.push_back(name);
    return name;
  }
  ProducerOptions options(const std::string& stream,
                          const std::string& endpoint = Backends::get().kinesis_endpoint) {
    ProducerOptions o;
    o.stream.name = stream;
    o.client = kinesalite(endpoint);
    o.linger = 20ms;
    o.metrics = &metrics_;
    o.retry = RetryPolicy::exponential(5ms, 50ms, 5, Jitter::kFull);
    if (std::getenv("SLUICE_TEST_PRODUCER_LOG")) o.logger = make_stderr_logger(LogLevel::kTrace);
    return o;
  }

  // Every Kinesis record of every shard (open and closed), in shard order.
  std::vector<KinesisRecordCopy> read_kinesis_records(const std::string& stream) {
    std::vector<KinesisRecordCopy> out;
    auto shards = run(kinesis_->list_shards({.name = stream}));
    EXPECT_TRUE(shards.ok()) << shards.status();
    if (!shards.ok()) return out;
    for (const auto& shard : *shards) {
      auto it = run(kinesis_->get_shard_iterator({.name = stream}, shard.shard_id,
                                                 {.type = aws::ShardIteratorType::kTrimHorizon}));
      EXPECT_TRUE(it.ok()) << it.status();
      if (!it.ok()) continue;
      std::string iterator = *it;
      for (int page = 0; page < 200; ++page) {
        auto r = run(kinesis_->get_records(iterator, 10000));
        EXPECT_TRUE(r.ok()) << r.status();
        if (!r.ok()) break;
        for (const auto& rec : r->records) {
          out.push_back({shard.shard_id, std::string(rec.sequence_number),
                         std::string(rec.partition_key), std::string(rec.data)});
        }
        if (r->records.empty() || !r->next_shard_iterator) break;
        iterator = *r->next_shard_iterator;
      }
    }
    return out;
  }

  // User records as a consumer gets them: deaggregated (flagging records
  // outside their shard's range, which the KCL drops) and decoded.
  std::vector<ReadBack> read_back(const std::string& stream, PayloadStore* store) {
    std::vector<ReadBack> out;
    auto shards = run(kinesis_->list_shards({.name = stream}));
    std::map<std::string, HashKeyInterval> ranges;
    for (const auto& s : *shards) {
      ranges[s.shard_id] = *parse_hash_key_interval(s.hash_key_range.starting_hash_key,
                                                    s.hash_key_range.ending_hash_key);
    }
    for (const auto& rec : read_kinesis_records(stream)) {
      std::vector<UserRecordView> users;
      if (deaggregate(rec.data, users) == AggregateCheck::kAggregated) {
        for (const auto& u : users) {
          ReadBack b{rec.shard_id, rec.sequence_number, u.sub_sequence_number,
                     std::string(u.partition_key), std::string(u.explicit_hash_key)};
          auto decoded = decode_payload(u.data, store);
          EXPECT_TRUE(decoded.ok()) << decoded.status();
          b.data = decoded.value_or("");
          b.in_range =
              ranges[rec.shard_id].contains(*record_hash_key(u.partition_key, u.explicit_hash_key));
          out.push_back(std::move(b));
        }
      } else {
        ReadBack b{rec.shard_id, rec.sequence_number, std::nullopt, rec.partition_key, ""};
        auto decoded = decode_payload(rec.data, store);
        EXPECT_TRUE(decoded.ok()) << decoded.status();
        b.data = decoded.value_or("");
        out.push_back(std::move(b));
      }
    }
    return out;
  }

  // The read-back records equal the sent ones, per key in order, and each
  // result names where its record is.
  void expect_round_trip(std::vector<Sent>& sent, const std::vector<ReadBack>& got) {
    std::map<std::string, std::vector<std::string>> want_by_key;
    std::map<std::string, std::vector<std::string>> got_by_key;
    for (const auto& s : sent) want_by_key[s.partition_key].push_back(s.data);
    std::map<std::tuple<std::string, std::string, std::uint64_t>, const ReadBack*> at;
    for (const auto& g : got) {
      EXPECT_TRUE(g.in_range) << "record outside its shard's range";
      got_by_key[g.partition_key].push_back(g.data);
      at[{g.shard_id, g.sequence_number, g.sub.value_or(0)}] = &g;
    }
    EXPECT_EQ(got.size(), sent.size());
    for (const auto& [key, want] : want_by_key) {
      const auto& have = got_by_key[key];
      ASSERT_EQ(have.size(), want.size()) << key;
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_TRUE(have[i] == want[i]) << "key " << key << " record " << i << " differs";
      }
    }
    for (auto& s : sent) {
      Result<PutResult> r = s.result.get();
      ASSERT_TRUE(r.ok()) << r.status();
      auto it = at.find({r->shard_id, r->sequence_number, r->sub_sequence_number.value_or(0)});
      ASSERT_NE(it, at.end()) << "the reported position holds no record";
      EXPECT_TRUE(it->second->data == s.data);
      EXPECT_EQ(it->second->partition_key, s.partition_key);
    }
  }

  ThreadPool pool_{2};
  MetricsRegistry metrics_;
  std::shared_ptr<aws::KinesisClient> kinesis_;
  std::shared_ptr<aws::S3Client> s3_;
  std::shared_ptr<S3PayloadStore> store_;
  std::vector<std::string> streams_;
};

TEST_F(ProducerIntegration, EveryPipelineRoundTripsByteForByteInKeyOrder) {
  struct Config {
    const char* name;
    bool aggregate = false;
    Compression compression = Compression::kNone;
    bool claim_check = false;
    bool explicit_keys = false;
  };
  const Config configs[] = {
      {"plain"},
      {"aggregated", true},
      {"gzip", false, Compression::kGzip},
      {"zstd-aggregated", true, Compression::kZstd},
      {"claim-checked", false, Compression::kNone, true},
      {"mixed", true, Compression::kZstd, true, true},
  };
  for (const Config& c : configs) {
    SCOPED_TRACE(c.name);
    const std::string stream = create_stream(3);
    auto o = options(stream);
    o.aggregate = c.aggregate;
    o.payload.compression = c.compression;
    if (c.claim_check) {
      o.payload.store = store_;
      o.payload.large_payload_threshold = 4000;
      o.payload.key_prefix = "it-" + stream;
    }
    auto producer = Producer::create(o);
    ASSERT_TRUE(producer.ok()) << producer.status();
    std::mt19937_64 rng(42);
    std::vector<Sent> sent;
    for (int i = 0; i < 300; ++i) {
      Sent s;
      s.partition_key = "key-" + std::to_string(i % 17);
      if (c.explicit_keys && (i % 17) % 3 == 0) {
        // One explicit hash key per partition key: a key's records share a
        // shard, so their order is defined.
        s.explicit_hash_key = format_hash_key(partition_key_hash("ehk" + s.partition_key));
      }
      if (c.claim_check && i % 25 == 0) {
        s.data = random_bytes(rng, 20000 + i);  // over the threshold even compressed
      } else if (i % 3 == 0) {
        s.data = random_bytes(rng, i % 200);
      } else {
        s.data = text(rng, 50 + i % 400);
      }
      s.result = (*producer)->put({s.partition_key, s.explicit_hash_key, s.data});
      sent.push_back(std::move(s));
    }
    ASSERT_TRUE((*producer)->close(30s).ok());
    auto stats = (*producer)->stats();
    EXPECT_EQ(stats.records_written, 300u);
    if (c.claim_check) {
      EXPECT_EQ(stats.large_payloads, 12u);
    }
    if (c.aggregate) {
      EXPECT_GT(stats.aggregates_written, 0u);
    }
    auto got = read_back(stream, store_.get());
    expect_round_trip(sent, got);
    // Plain pipelines leave the bytes alone.
    if (c.compression == Compression::kNone && !c.claim_check && !c.aggregate) {
      for (const auto& r : read_kinesis_records(stream)) EXPECT_FALSE(has_envelope(r.data));
    }
  }
}

// What the engine's Consumer handed to its record handler.
struct Consumed {
  std::string partition_key;
  std::string data;
};

// Runs a Consumer over `stream` from TRIM_HORIZON until `done` holds (or 60 s
// pass), then stops it gracefully and returns what start() returned.
Status consume_until(ConsumerOptions o, std::shared_ptr<aws::KinesisClient> kinesis,
                     const std::function<bool()>& done) {
  o.start_position = StartPosition::kTrimHorizon;
  o.poll_interval = 50ms;
  o.shard_sync_interval = 500ms;
  o.checkpoint_every = 10;
  o.retry = {.max_attempts = 2, .backoff = 10ms};
  o.shutdown_timeout = 20s;
  auto consumer =
      Consumer::create(std::move(o), std::move(kinesis), std::make_shared<MemoryCheckpointStore>());
  if (!consumer.ok()) return consumer.status();
  std::stop_source stop;
  Status result;
  std::thread runner([&] { result = (*consumer)->start(stop.get_token()); });
  const bool reached = sluice::testing::wait_until(done, 60s, 20ms);
  stop.request_stop();
  runner.join();
  if (!reached) return Status::timeout("the consumer did not see every record within 60 s");
  return result;
}

TEST_F(ProducerIntegration, TheConsumerDecodesCompressedAndClaimCheckedRecordsBack) {
  // Written with every payload option at once (aggregated, zstd, large
  // payloads claim-checked to s3rver); read back by the engine's Consumer
  // with the payload decoder hook, not by hand.
  const std::string stream = create_stream(2);
  auto o = options(stream);
  o.aggregate = true;
  o.payload.compression = Compression::kZstd;
  o.payload.store = store_;
  o.payload.large_payload_threshold = 4000;
  o.payload.key_prefix = "consumer-" + stream;
  auto producer = Producer::create(o);
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::mt19937_64 rng(7);
  std::vector<Sent> sent;
  for (int i = 0; i < 200; ++i) {
    Sent s;
    s.partition_key = "key-" + std::to_string(i % 11);
    if (i % 20 == 0) {
      s.data = random_bytes(rng, 30000 + i);  // claim-checked even compressed
    } else if (i % 3 == 0) {
      s.data = random_bytes(rng, i % 150);  // incompressible, some empty
    } else {
      s.data = text(rng, 40 + i % 500);
    }
    s.result = (*producer)->put({s.partition_key, "", s.data});
    sent.push_back(std::move(s));
  }
  ASSERT_TRUE((*producer)->close(30s).ok());
  ASSERT_EQ((*producer)->stats().records_written, 200u);
  EXPECT_EQ((*producer)->stats().large_payloads, 10u);

  std::mutex mu;
  std::vector<Consumed> got;
  ConsumerOptions co;
  co.stream_name = stream;
  co.metrics = &metrics_;
  co.payload_decoder = make_payload_decoder(store_);
  co.record_handler = [&](const Record& r) {
    std::lock_guard lock(mu);
    got.push_back({std::string(r.partition_key), std::string(r.data)});
    return Status();
  };
  const Status consumed = consume_until(co, kinesis_, [&] {
    std::lock_guard lock(mu);
    return got.size() >= sent.size();
  });
  ASSERT_TRUE(consumed.ok()) << consumed;

  // Nothing lost, nothing twice, bytes equal, each key's records in order.
  std::lock_guard lock(mu);
  ASSERT_EQ(got.size(), sent.size());
  std::map<std::string, std::vector<std::string>> want_by_key, got_by_key;
  for (const auto& s : sent) want_by_key[s.partition_key].push_back(s.data);
  for (const auto& g : got) got_by_key[g.partition_key].push_back(g.data);
  ASSERT_EQ(got_by_key.size(), want_by_key.size());
  for (const auto& [key, want] : want_by_key) {
    const auto& have = got_by_key[key];
    ASSERT_EQ(have.size(), want.size()) << key;
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_TRUE(have[i] == want[i]) << "key " << key << " record " << i << " differs";
    }
  }
  for (auto& s : sent) EXPECT_TRUE(s.result.get().ok());
}

TEST_F(ProducerIntegration, AClaimCheckWhoseObjectIsGoneIsThatRecordsFailureOnly) {
  const std::string stream = create_stream(1);
  auto o = options(stream);
  o.payload.store = store_;
  o.payload.large_payload_threshold = 1000;
  o.payload.key_prefix = "gone-" + stream;
  auto producer = Producer::create(o);
  ASSERT_TRUE(producer.ok()) << producer.status();
  auto before = (*producer)->put({"k", "", "small before"});
  auto large = (*producer)->put({"k", "", std::string(5000, 'L')});
  auto after = (*producer)->put({"k", "", "small after"});
  ASSERT_TRUE((*producer)->close(30s).ok());
  auto stored = large.get();
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_FALSE(stored->payload_key.empty());
  ASSERT_TRUE(before.get().ok());
  ASSERT_TRUE(after.get().ok());
  ASSERT_TRUE(run(s3_->delete_object(Backends::get().s3_bucket, stored->payload_key)).ok());

  std::mutex mu;
  std::vector<std::string> handled;
  std::vector<Status> dead;
  ConsumerOptions co;
  co.stream_name = stream;
  co.metrics = &metrics_;
  co.payload_decoder = make_payload_decoder(store_);
  co.failure_policy = FailurePolicy::kDeadLetter;
  co.record_handler = [&](const Record& r) {
    std::lock_guard lock(mu);
    handled.emplace_back(r.data);
    return Status();
  };
  co.dead_letter = [&](const Record&, const Status& error) {
    std::lock_guard lock(mu);
    dead.push_back(error);
  };
  const Status consumed = consume_until(co, kinesis_, [&] {
    std::lock_guard lock(mu);
    return handled.size() + dead.size() >= 3;
  });
  ASSERT_TRUE(consumed.ok()) << consumed;
  std::unique_lock lock(mu);
  // The records around it are delivered, in order; the broken one is
  // reported with the object it could not find, never handed over garbled.
  EXPECT_EQ(handled, (std::vector<std::string>{"small before", "small after"}));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].code(), StatusCode::kNotFound) << dead[0];
  EXPECT_NE(dead[0].message().find(stored->payload_key), std::string_view::npos) << dead[0];

  // The same with a batch handler: it never gets the undecodable record.
  handled.clear();
  dead.clear();
  co.record_handler = nullptr;
  co.batch_handler = [&](std::span<const Record> records) {
    std::lock_guard guard(mu);
    for (const Record& r : records) handled.emplace_back(r.data);
    return Status();
  };
  lock.unlock();
  const Status batch_run = consume_until(co, kinesis_, [&] {
    std::lock_guard guard(mu);
    return handled.size() + dead.size() >= 3;
  });
  ASSERT_TRUE(batch_run.ok()) << batch_run;
  lock.lock();
  EXPECT_EQ(handled, (std::vector<std::string>{"small before", "small after"}));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].code(), StatusCode::kNotFound) << dead[0];
}

TEST_F(ProducerIntegration, PartialFailuresAndThrottlingWriteEveryRecordExactlyOnce) {
  for (bool aggregate : {false, true}) {
    SCOPED_TRACE(aggregate ? "aggregated" : "plain, strict order");
    const std::string stream = create_stream(2);
    // Real partial failures: a third of the entries of the first 8 requests
    // are throttled, some others fail internally; not written.
    producer_test::PartialFailureProxy partial(
        Backends::get().kinesis_endpoint, [](int request, int entry) -> std::optional<std::string> {
          if (request < 8 && entry % 3 == 1) return "ProvisionedThroughputExceededException";
          if (request < 8 && entry % 7 == 5) return "InternalFailure";
          return std::nullopt;
        });
    // In front of it: whole-request throttling, a 500 and a reset.
    sluice::testing::FaultProxy faults(partial.url());
    faults.add_rule(sluice::testing::FaultProxy::throttle("PutRecords", 2));
    auto server_error = sluice::testing::FaultProxy::server_error("PutRecords", 1);
    server_error.skip = 3;
    faults.add_rule(server_error);
    auto reset = sluice::testing::FaultProxy::reset("PutRecords", 1);
    reset.skip = 5;
    faults.add_rule(reset);

    auto o = options(stream, faults.url());
    o.aggregate = aggregate;
    o.strict_order = !aggregate;
    o.aggregation_max_bytes = 4096;  // several aggregates per request
    o.retry.max_retries = 20;
    auto producer = Producer::create(o);
    ASSERT_TRUE(producer.ok()) << producer.status();
    std::vector<Sent> sent;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 400; ++i) {
      Sent s;
      s.partition_key = "key-" + std::to_string(i % 23);
      s.data = "record-" + std::to_string(i) + "-" + text(rng, i % 100);
      s.result = (*producer)->put({s.partition_key, "", s.data});
      sent.push_back(std::move(s));
    }
    ASSERT_TRUE((*producer)->close(60s).ok());
    EXPECT_GT(partial.failed_entries(), 0);
    EXPECT_GE(faults.faults(), 3);
    EXPECT_GT((*producer)->stats().retries, 0u);
    expect_round_trip(sent, read_back(stream, nullptr));
  }
}

TEST_F(ProducerIntegration, RecordsThatExhaustRetriesAreReportedAndNeverWritten) {
  const std::string stream = create_stream(1);
  // Entry 0 of every request fails: with one retry, some records fail twice.
  producer_test::PartialFailureProxy partial(Backends::get().kinesis_endpoint,
                                             [](int, int entry) -> std::optional<std::string> {
                                               if (entry == 0)
                                                 return "ProvisionedThroughputExceededException";
                                               return std::nullopt;
                                             });
  auto o = options(stream, partial.url());
  o.retry.max_retries = 1;
  o.linger = 1ms;
  auto producer = Producer::create(o);
  ASSERT_TRUE(producer.ok());
  std::vector<Sent> sent;
  for (int i = 0; i < 200; ++i) {
    Sent s;
    s.partition_key = "k" + std::to_string(i % 9);
    s.data = "r" + std::to_string(i);
    s.result = (*producer)->put({s.partition_key, "", s.data});
    sent.push_back(std::move(s));
  }
  ASSERT_TRUE((*producer)->close(30s).ok());
  std::multiset<std::string> written;
  int failed = 0;
  for (auto& s : sent) {
    auto r = s.result.get();
    if (r.ok()) {
      written.insert(s.data);
    } else {
      ++failed;
      EXPECT_EQ(r.status().code(), StatusCode::kThrottled);
      EXPECT_NE(r.status().message().find("gave up after 2 attempts"), std::string_view::npos);
    }
  }
  EXPECT_GT(failed, 0);
  std::multiset<std::string> in_stream;
  for (const auto& r : read_back(stream, nullptr)) in_stream.insert(r.data);
  EXPECT_EQ(in_stream, written) << "the stream holds exactly the records reported written";
  EXPECT_EQ(written.size() + static_cast<std::size_t>(failed), sent.size());
}

TEST_F(ProducerIntegration, ShutdownWithAFullBufferSendsEveryRecord) {
  const std::string stream = create_stream(2);
  auto o = options(stream);
  o.linger = 1h;  // only the shutdown sends
  o.aggregate = true;
  std::vector<Sent> sent;
  {
    auto producer = Producer::create(o);
    ASSERT_TRUE(producer.ok());
    for (int i = 0; i < 5000; ++i) {
      Sent s;
      s.partition_key = "key-" + std::to_string(i % 31);
      s.data = "payload " + std::to_string(i);
      s.result = (*producer)->put({s.partition_key, "", s.data});
      sent.push_back(std::move(s));
    }
    EXPECT_EQ((*producer)->stats().buffered_records, 5000u);
  }  // the destructor closes
  expect_round_trip(sent, read_back(stream, nullptr));
}

TEST_F(ProducerIntegration, InvalidInputIsRejectedUpFrontAndMissingStreamsFail) {
  const std::string stream = create_stream(1);
  auto producer = Producer::create(options(stream));
  ASSERT_TRUE(producer.ok());
  Producer& p = **producer;
  auto code = [&](UserRecord r) { return p.put(std::move(r), nullptr).code(); };
  EXPECT_EQ(code({"", "", "x"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({std::string(257, 'k'), "", "x"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"k", "-1", "x"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"k", "", std::string((1 << 20) + 1, 'x')}), StatusCode::kInvalidArgument);
  // Exactly 1 MiB with its key goes through kinesalite's limits.
  auto max = p.put(UserRecord{"k", "", std::string((1 << 20) - 1, 'x')});
  p.flush();
  EXPECT_TRUE(max.get().ok());

  auto o = options("no-such-stream-" + sluice::testing::unique_name("x"));
  auto missing = Producer::create(o);
  ASSERT_TRUE(missing.ok());
  auto f = (*missing)->put(UserRecord{"k", "", "x"});
  (*missing)->flush();
  auto r = f.get();
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();
  EXPECT_NE(r.status().message().find("after 1 attempt"), std::string_view::npos) << r.status();
}

TEST_F(ProducerIntegration, ReshardWhileAggregatingLosesNothingForKclConsumers) {
  const std::string stream = create_stream(2);
  auto o = options(stream);
  o.aggregate = true;
  o.shard_map_refresh_interval = 1h;  // only a misroute refreshes
  auto producer = Producer::create(o);
  ASSERT_TRUE(producer.ok());
  std::vector<Sent> sent;
  auto put_batch = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      Sent s;
      s.partition_key = "user-" + std::to_string(i % 50);
      s.data = "event-" + std::to_string(i);
      s.result = (*producer)->put({s.partition_key, "", s.data});
      sent.push_back(std::move(s));
    }
    (*producer)->flush();
  };
  put_batch(0, 300);
  // Split shard 0 in the middle of its range.
  auto shards = run(kinesis_->list_shards({.name = stream}));
  ASSERT_TRUE(shards.ok());
  const auto range = *parse_hash_key_interval((*shards)[0].hash_key_range.starting_hash_key,
                                              (*shards)[0].hash_key_range.ending_hash_key);
  const HashKey mid = range.start + (range.end - range.start) / 2;
  ASSERT_TRUE(
      run(kinesis_->split_shard({.name = stream}, (*shards)[0].shard_id, format_hash_key(mid)))
          .ok());
  ASSERT_TRUE(run(kinesis_->wait_until_active({.name = stream}, 10s)).ok());
  put_batch(300, 900);
  ASSERT_TRUE((*producer)->close(30s).ok());
  EXPECT_GT((*producer)->stats().misrouted_records, 0u);
  EXPECT_EQ((*producer)->shard_map()->size(), 3u);
  // What a KCL consumer delivers: user records in their shard's range.
  std::multiset<std::string> delivered;
  for (const auto& r : read_back(stream, nullptr)) {
    if (r.in_range) delivered.insert(r.data);
  }
  for (auto& s : sent) {
    auto r = s.result.get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(delivered.count(s.data), 1u) << s.data;
  }
}

// --- npm aws-kinesis-agg cross-check ----------------------------------------------

sluice::testing::CommandResult node(const std::string& script, const std::string& input_file) {
  const auto& env = Backends::get();
  const std::string path = sluice::testing::source_dir() + "/tests/integration/kinesis/" + script;
  return sluice::testing::run_command(
      "cd " + shell_quote(env.testenv_dir) +
      " && NODE_PATH=" + shell_quote(env.testenv_dir + "/node_modules") + " timeout 60 " +
      shell_quote(env.node) + " " + shell_quote(path) + " < " + shell_quote(input_file) + " 2>&1");
}

struct JsonRecord {
  std::string partition_key;
  std::string explicit_hash_key;
  std::string data;
};

std::vector<JsonRecord> parse_lines(const std::string& output) {
  std::vector<JsonRecord> out;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    if (end > start) {
      auto r = parse_record_json(std::string_view(output).substr(start, end - start));
      EXPECT_TRUE(r.ok()) << r.status() << ": " << output.substr(start, end - start);
      if (r.ok()) out.push_back({r->partition_key, r->explicit_hash_key, r->data});
    }
    start = end + 1;
  }
  return out;
}

TEST_F(ProducerIntegration, NpmAwsKinesisAggDeaggregatesWhatTheProducerWrites) {
  const std::string stream = create_stream(2);
  auto o = options(stream);
  o.aggregate = true;
  o.linger = 1h;
  auto producer = Producer::create(o);
  ASSERT_TRUE(producer.ok());
  std::mt19937_64 rng(3);
  std::vector<JsonRecord> sent;
  for (int i = 0; i < 500; ++i) {
    JsonRecord r{"pk-" + std::to_string(i % 13), "", random_bytes(rng, 1 + i % 300)};
    ASSERT_TRUE((*producer)->put({r.partition_key, "", r.data}, nullptr).ok());
    sent.push_back(std::move(r));
  }
  ASSERT_TRUE((*producer)->close(30s).ok());
  // The Kinesis records as written, to the npm package.
  sluice::testing::TempDir dir;
  std::string lines;
  std::vector<JsonRecord> ours;
  for (const auto& rec : read_kinesis_records(stream)) {
    lines += format_record_json(rec.partition_key, "", rec.data) + "\n";
    std::vector<UserRecordView> users;
    ASSERT_EQ(deaggregate(rec.data, users), AggregateCheck::kAggregated);
    for (const auto& u : users) {
      ours.push_back(
          {std::string(u.partition_key), std::string(u.explicit_hash_key), std::string(u.data)});
    }
  }
  sluice::testing::write_file(dir / "records.jsonl", lines);
  auto r = node("producer_npm_deaggregate.js", (dir / "records.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto theirs = parse_lines(r.output);
  ASSERT_EQ(theirs.size(), 500u) << r.output.substr(0, 500);
  ASSERT_EQ(ours.size(), 500u);
  for (std::size_t i = 0; i < theirs.size(); ++i) {
    EXPECT_EQ(theirs[i].partition_key, ours[i].partition_key) << i;
    EXPECT_TRUE(theirs[i].data == ours[i].data) << i;
  }
  // And per key, what was sent.
  std::map<std::string, std::vector<std::string>> want, got;
  for (const auto& s : sent) want[s.partition_key].push_back(s.data);
  for (const auto& t : theirs) got[t.partition_key].push_back(t.data);
  EXPECT_TRUE(want == got);
}

TEST_F(ProducerIntegration, NpmAggregatesDeaggregateExactlyAndMatchOursByteForByte) {
  std::mt19937_64 rng(11);
  sluice::testing::TempDir dir;
  for (bool with_ehk : {false, true}) {
    SCOPED_TRACE(with_ehk ? "explicit hash keys" : "partition keys only");
    std::vector<JsonRecord> records;
    std::string lines;
    for (int i = 0; i < 5000; ++i) {
      // Realistic (128-bit) explicit hash keys: the npm package keeps its
      // key tables in JS objects, which reorder small integer-like keys.
      JsonRecord r{
          "key-" + std::to_string(i % 41),
          with_ehk ? format_hash_key((static_cast<HashKey>(rng()) << 64) | rng() % 50) : "",
          random_bytes(rng, 1 + i % 700)};
      lines += format_record_json(r.partition_key, r.explicit_hash_key, r.data) + "\n";
      records.push_back(std::move(r));
    }
    sluice::testing::write_file(dir / "users.jsonl", lines);
    auto r = node("producer_npm_aggregate.js", (dir / "users.jsonl").string());
    ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 1000);
    auto aggregates = parse_lines(r.output);
    ASSERT_GE(aggregates.size(), 2u) << "more than 1 MiB: several aggregates";
    std::vector<JsonRecord> users;
    for (const auto& a : aggregates) {
      std::vector<UserRecordView> views;
      ASSERT_EQ(deaggregate(a.data, views), AggregateCheck::kAggregated);
      for (const auto& v : views) {
        users.push_back(
            {std::string(v.partition_key), std::string(v.explicit_hash_key), std::string(v.data)});
      }
    }
    ASSERT_EQ(users.size(), records.size());
    for (std::size_t i = 0; i < users.size(); ++i) {
      ASSERT_EQ(users[i].partition_key, records[i].partition_key) << i;
      ASSERT_EQ(users[i].explicit_hash_key, records[i].explicit_hash_key) << i;
      ASSERT_TRUE(users[i].data == records[i].data) << i;
    }
    // Our builder, fed the same records as the npm package's first
    // aggregate, produces the same bytes.
    std::vector<UserRecordView> first;
    ASSERT_EQ(deaggregate(aggregates[0].data, first), AggregateCheck::kAggregated);
    AggregateBuilder builder;
    for (const auto& v : first) builder.add(v.partition_key, v.explicit_hash_key, v.data);
    EXPECT_TRUE(builder.finish() == aggregates[0].data) << "byte-for-byte equal to aws-kinesis-agg";
  }
}

// --- the seed's KinesisWriter -------------------------------------------------------

TEST_F(ProducerIntegration, KinesisWriterFollowsTheSeed) {
  const std::string stream = create_stream(2);
  KinesisWriterOptions wo;
  wo.stream_name = stream;
  wo.payload_store = store_;
  wo.log_group_id = "lg-1";
  wo.schema_name = "DataFileV1";
  wo.account_id = "123456789012";
  wo.distribution_factor = 3;
  wo.large_payload_threshold = 1024;
  wo.max_retries = 3;
  wo.producer = options(stream);
  auto writer = KinesisWriter::create(wo);
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::mt19937_64 rng(5);
  std::vector<std::string> payloads;
  for (int i = 0; i < 60; ++i) {
    payloads.push_back(i % 10 == 0 ? random_bytes(rng, 5000) : text(rng, 100 + i * 10));
  }
  ASSERT_TRUE((*writer)->write_batch(std::span<const std::string>(payloads)).ok());
  auto got = read_back(stream, store_.get());
  ASSERT_EQ(got.size(), payloads.size());
  std::multiset<std::string> want(payloads.begin(), payloads.end());
  std::multiset<std::string> have;
  std::set<std::string> keys;
  for (const auto& g : got) {
    have.insert(g.data);
    keys.insert(g.partition_key);
  }
  EXPECT_TRUE(want == have);
  EXPECT_EQ(keys,
            (std::set<std::string>{"lg-1-DataFileV1-0", "lg-1-DataFileV1-1", "lg-1-DataFileV1-2"}));
  // Large ones went to S3 under the seed's key, gzip inside.
  int claim_checked = 0;
  for (const auto& rec : read_kinesis_records(stream)) {
    auto env = parse_envelope(rec.data);
    ASSERT_TRUE(env.ok()) << "every record is gzip-enveloped";
    EXPECT_EQ(env->compression, Compression::kGzip);
    if (env->claim_check) {
      ++claim_checked;
      EXPECT_TRUE(env->claim_key.starts_with("lg-1-DataFileV1-" + stream + "/"));
      auto object = run(s3_->get_object(Backends::get().s3_bucket, std::string(env->claim_key)));
      ASSERT_TRUE(object.ok()) << object.status();
    }
  }
  EXPECT_EQ(claim_checked, 6);
  EXPECT_NE(
      metrics_.expose().find("kinesis_large_payloads_total{stream_name=\"" + stream + "\"} 6"),
      std::string::npos);

  // The retryer: one attempt per execute(); throttled, then through.
  sluice::testing::FaultProxy faults(Backends::get().kinesis_endpoint);
  faults.add_rule(sluice::testing::FaultProxy::throttle("PutRecords", 1));
  wo.producer = options(stream, faults.url());
  wo.payload_store = nullptr;
  wo.large_payload_threshold = 0;
  auto throttled = KinesisWriter::create(wo);
  ASSERT_TRUE(throttled.ok());
  auto retryer = (*throttled)->make_retryer({"one", "two", "three"});
  auto first = retryer->execute();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(*first) << "throttled: retry needed";
  EXPECT_EQ(retryer->pending(), 3u);
  EXPECT_EQ(retryer->last_error().code(), StatusCode::kThrottled);
  auto second = retryer->execute();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(*second);
  EXPECT_EQ(retryer->attempts(), 2);
  EXPECT_EQ(retryer->pending(), 0u);
  for (const auto& r : retryer->results()) EXPECT_TRUE(r.has_value());

  // Bad parameters are named.
  KinesisWriterOptions bad = wo;
  bad.distribution_factor = 0;
  auto refused = KinesisWriter::create(bad);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("distribution_factor"), std::string_view::npos);
}

// --- the CLI ----------------------------------------------------------------------------

std::string sluice_binary() {
  return sluice::testing::sluice_binary();
}

std::string cli_env() {
  return "AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1 "
         "AWS_EC2_METADATA_DISABLED=true ";
}

TEST_F(ProducerIntegration, CliProduceGeneratesLoadAndReadsJsonLines) {
  const std::string stream = sluice::testing::unique_name("cli");
  streams_.push_back(stream);
  auto r = sluice::testing::run_command(
      cli_env() + "timeout 120 " + shell_quote(sluice_binary()) + " kinesis produce --stream " +
      stream +
      " --shards 2 --count 3000 --payload-bytes 300 --partition-keys 20 --workers 2 "
      "--aggregate --compress zstd --progress-interval 0 --summary-json --endpoint-url " +
      Backends::get().kinesis_endpoint + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"written\":3000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"failed\":0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("records_per_second"), std::string::npos) << r.output;
  auto got = read_back(stream, nullptr);
  ASSERT_EQ(got.size(), 3000u);
  std::set<std::string> keys;
  for (const auto& g : got) {
    EXPECT_EQ(g.data.size(), 300u);
    keys.insert(g.partition_key);
  }
  EXPECT_EQ(keys.size(), 20u);

  // --input: JSON lines, with explicit hash keys; the human summary.
  sluice::testing::TempDir dir;
  std::string lines;
  for (int i = 0; i < 50; ++i) {
    lines += format_record_json("in-" + std::to_string(i % 4), i % 2 ? "0" : "",
                                "line " + std::to_string(i)) +
             "\n";
  }
  sluice::testing::write_file(dir / "in.jsonl", lines);
  const std::string stream2 = create_stream(1);
  auto r2 = sluice::testing::run_command(
      cli_env() + "timeout 60 " + shell_quote(sluice_binary()) + " kinesis produce --stream " +
      stream2 + " --input " + shell_quote((dir / "in.jsonl").string()) +
      " --progress-interval 0 --endpoint-url " + Backends::get().kinesis_endpoint + " 2>&1");
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  EXPECT_NE(r2.output.find("records: 50 written, 0 failed"), std::string::npos) << r2.output;
  auto got2 = read_back(stream2, nullptr);
  ASSERT_EQ(got2.size(), 50u);
  EXPECT_EQ(got2[0].data, "line 0");

  // A malformed line is an error naming the line.
  sluice::testing::write_file(dir / "bad.jsonl", lines + "{\"partition_key\":\"x\"}\n");
  auto r3 = sluice::testing::run_command(
      cli_env() + "timeout 60 " + shell_quote(sluice_binary()) + " kinesis produce --stream " +
      stream2 + " --input " + shell_quote((dir / "bad.jsonl").string()) +
      " --progress-interval 0 --endpoint-url " + Backends::get().kinesis_endpoint + " 2>&1");
  EXPECT_NE(r3.exit_code, 0);
  EXPECT_NE(r3.output.find("line 51"), std::string::npos) << r3.output;
}

TEST_F(ProducerIntegration, CliAggregateOutputDeaggregatesExactly) {
  sluice::testing::TempDir dir;
  std::mt19937_64 rng(9);
  std::vector<JsonRecord> records;
  std::string lines;
  for (int i = 0; i < 2000; ++i) {
    JsonRecord r{"key-" + std::to_string(i % 29), "", random_bytes(rng, 1 + i % 900)};
    lines += format_record_json(r.partition_key, "", r.data) + "\n";
    records.push_back(std::move(r));
  }
  sluice::testing::write_file(dir / "users.jsonl", lines);
  for (int shards : {0, 1, 4}) {
    SCOPED_TRACE("shards " + std::to_string(shards));
    auto r = sluice::testing::run_command(
        shell_quote(sluice_binary()) + " kinesis aggregate --shards " + std::to_string(shards) +
        " --max-bytes 65536 --input " + shell_quote((dir / "users.jsonl").string()) + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 500);
    auto out = parse_lines(r.output);
    ShardMap map = ShardMap::uniform(std::max(shards, 1));
    std::map<std::string, std::vector<std::string>> want, got;
    for (const auto& rec : records) want[rec.partition_key].push_back(rec.data);
    for (const auto& k : out) {
      std::vector<UserRecordView> users;
      if (deaggregate(k.data, users) == AggregateCheck::kAggregated) {
        EXPECT_LE(k.data.size() + k.partition_key.size(), 65536u);
        EXPECT_EQ(k.explicit_hash_key, format_hash_key(partition_key_hash(users[0].partition_key)));
        const int shard = map.find(partition_key_hash(users[0].partition_key));
        for (const auto& u : users) {
          if (shards > 0) {
            EXPECT_EQ(map.find(partition_key_hash(u.partition_key)), shard)
                << "one shard per aggregate";
          } else {
            EXPECT_EQ(u.partition_key, users[0].partition_key) << "equal hash keys only";
          }
          got[std::string(u.partition_key)].push_back(std::string(u.data));
        }
      } else {
        got[k.partition_key].push_back(k.data);
      }
    }
    EXPECT_TRUE(want == got);
    if (shards == 1) {
      EXPECT_LT(out.size(), 40u);
    }
  }
  // The npm package reads our aggregates too.
  auto ours = sluice::testing::run_command(shell_quote(sluice_binary()) +
                                           " kinesis aggregate --shards 1 --input " +
                                           shell_quote((dir / "users.jsonl").string()));
  ASSERT_EQ(ours.exit_code, 0);
  sluice::testing::write_file(dir / "aggs.jsonl", ours.output);
  auto theirs = node("producer_npm_deaggregate.js", (dir / "aggs.jsonl").string());
  ASSERT_EQ(theirs.exit_code, 0) << theirs.output.substr(0, 500);
  auto users = parse_lines(theirs.output);
  ASSERT_EQ(users.size(), records.size());
  for (std::size_t i = 0; i < users.size(); ++i) {
    ASSERT_TRUE(users[i].data == records[i].data) << i;
  }
}

}  // namespace
}  // namespace sluice::kinesis
