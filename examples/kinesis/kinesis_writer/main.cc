// Seed 003's quick start: write DataFileV1 protobuf records to Kinesis with
// gzip, S3 claim-check of large payloads, the seed's partition keys, retries
// and metrics, then (VERIFY=1) read them back the way a consumer does:
// GetRecords, deaggregate, decode_payload(), ParseFromString.
//
//   STREAM_NAME=datafiles PAYLOAD_BUCKET=sluice-large-payloads CREATE=1 VERIFY=1
//   AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:4567 AWS_ENDPOINT_URL_S3=http://127.0.0.1:4568
//   build/examples/kinesis_writer
//
// Settings (environment): STREAM_NAME, PAYLOAD_BUCKET, LOG_GROUP_ID,
// SCHEMA_NAME, ACCOUNT_ID, DISTRIBUTION_FACTOR (10), LARGE_PAYLOAD_THRESHOLD
// (1024), MAX_RETRIES (3), RECORDS (100), CREATE (create the stream and the
// bucket if missing), VERIFY (read the stream back).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "data_file.pb.h"
#include "sluice/aws/kinesis_client.h"
#include "sluice/aws/s3_client.h"
#include "sluice/core/executor.h"
#include "sluice/core/metrics.h"
#include "sluice/kinesis/aggregation.h"
#include "sluice/kinesis/kinesis_writer.h"
#include "sluice/kinesis/payload_codec.h"

namespace {

std::string env(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

int fail(const sluice::Status& s, const char* what) {
  std::fprintf(stderr, "kinesis_writer: %s: %s\n", what, s.to_string().c_str());
  return 1;
}

std::vector<cygnus::DataFileV1> make_records(int n) {
  std::vector<cygnus::DataFileV1> out;
  for (int i = 0; i < n; ++i) {
    cygnus::DataFileV1 f;
    f.set_file_path("s3://lake/events/dt=2026-01-01/part-" + std::to_string(i) + ".parquet");
    f.set_file_format(cygnus::Parquet);
    f.set_record_count(1000 + i);
    f.set_file_size_in_bytes(1024 * (i + 1));
    f.set_partition("dt=2026-01-01");
    f.set_created_at_unix_ms(1767225600000 + i);
    // Every tenth file has a wide schema: over the large-payload threshold.
    const int columns = i % 10 == 0 ? 400 : 5;
    std::uint64_t h = 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(i + 1);
    for (int c = 0; c < columns; ++c) {
      h ^= h >> 29;
      h *= 0xBF58476D1CE4E5B9ull;
      f.add_columns("col_" + std::to_string(h % 1000000007));
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

int main() {
  using namespace sluice;
  const std::string stream = env("STREAM_NAME", "datafiles");
  const std::string bucket = env("PAYLOAD_BUCKET", "sluice-large-payloads");
  const int count = std::atoi(env("RECORDS", "100").c_str());

  auto kinesis_client = aws::KinesisClient::create({});
  if (!kinesis_client.ok()) return fail(kinesis_client.status(), "Kinesis client");
  auto s3_client = aws::S3Client::create({});
  if (!s3_client.ok()) return fail(s3_client.status(), "S3 client");
  std::shared_ptr<aws::KinesisClient> kinesis = std::move(*kinesis_client);
  std::shared_ptr<aws::S3Client> s3 = std::move(*s3_client);
  ThreadPool pool(1);

  if (env("CREATE", "") == "1") {
    Status created = run_blocking(pool.executor(), kinesis->create_stream(stream, 2));
    if (!created.ok() && created.code() != StatusCode::kAlreadyExists)
      return fail(created, "create stream");
    Status active = run_blocking(
        pool.executor(), kinesis->wait_until_active({.name = stream}, std::chrono::seconds(60)));
    if (!active.ok()) return fail(active, "wait for the stream");
    Status bucket_made = run_blocking(pool.executor(), s3->create_bucket(bucket));
    if (!bucket_made.ok() && bucket_made.code() != StatusCode::kAlreadyExists)
      return fail(bucket_made, "create bucket");
  }

  // The seed's NewS3LargePayloadStore(s3Client, bucket) and NewKinesisWriter(...).
  auto store = kinesis::S3PayloadStore::create(s3, {.bucket = bucket});
  if (!store.ok()) return fail(store.status(), "payload store");
  kinesis::KinesisWriterOptions options{
      .stream_name = stream,
      .payload_store = *store,
      .log_group_id = env("LOG_GROUP_ID", "my-log-group-id"),
      .schema_name = env("SCHEMA_NAME", "DataFileV1"),
      .account_id = env("ACCOUNT_ID", "123456789012"),
      .distribution_factor = std::atoi(env("DISTRIBUTION_FACTOR", "10").c_str()),
      .large_payload_threshold =
          static_cast<std::size_t>(std::atol(env("LARGE_PAYLOAD_THRESHOLD", "1024").c_str())),
      .max_retries = std::atoi(env("MAX_RETRIES", "3").c_str()),
  };
  options.producer.kinesis = kinesis;
  auto writer = kinesis::KinesisWriter::create(options);
  if (!writer.ok()) return fail(writer.status(), "writer");

  const std::vector<cygnus::DataFileV1> records = make_records(count);
  Status written = (*writer)->write_batch(records);
  if (!written.ok()) return fail(written, "write_batch");
  std::printf("wrote %d DataFileV1 records to %s\n", count, stream.c_str());

  // The seed's metrics, in the Prometheus text format.
  const std::string metrics = MetricsRegistry::global().expose();
  for (const char* name : {"kinesis_write_attempts_total{", "kinesis_write_success_total{",
                           "kinesis_large_payloads_total{", "kinesis_failed_records_total{"}) {
    const auto at = metrics.find(name);
    if (at != std::string::npos)
      std::printf("  %s\n", metrics.substr(at, metrics.find('\n', at) - at).c_str());
  }
  (void)(*writer)->close();

  if (env("VERIFY", "") != "1") return 0;
  // Closing the loop: what a consumer does with these records.
  auto shards = run_blocking(pool.executor(), kinesis->list_shards({.name = stream}));
  if (!shards.ok()) return fail(shards.status(), "list shards");
  int read = 0;
  int claim_checked = 0;
  for (const auto& shard : *shards) {
    auto it = run_blocking(pool.executor(), kinesis->get_shard_iterator(
                                                {.name = stream}, shard.shard_id,
                                                {.type = aws::ShardIteratorType::kTrimHorizon}));
    if (!it.ok()) return fail(it.status(), "shard iterator");
    std::string iterator = *it;
    for (int page = 0; page < 100; ++page) {
      auto got = run_blocking(pool.executor(), kinesis->get_records(iterator, 10000));
      if (!got.ok()) return fail(got.status(), "get records");
      for (const auto& rec : got->records) {
        std::vector<kinesis::UserRecordView> users;
        if (kinesis::deaggregate(rec.data, users) != kinesis::AggregateCheck::kAggregated) {
          users.push_back({rec.partition_key, {}, rec.data, 0});
        }
        for (const auto& u : users) {
          auto envelope = kinesis::parse_envelope(u.data);
          if (envelope.ok() && envelope->claim_check) ++claim_checked;
          auto payload = kinesis::decode_payload(u.data, store->get());
          if (!payload.ok()) return fail(payload.status(), "decode");
          cygnus::DataFileV1 f;
          if (!f.ParseFromString(*payload))
            return fail(Status::corruption("not a DataFileV1"), "parse");
          ++read;
        }
      }
      if (got->records.empty() || !got->next_shard_iterator) break;
      iterator = *got->next_shard_iterator;
    }
  }
  std::printf("read back %d DataFileV1 records (%d claim-checked in s3://%s)\n", read,
              claim_checked, bucket.c_str());
  return 0;
}
