// KinesisWriter: seed 003's synchronous batch writer, made general (any
// payload type with a serializer; protobuf messages out of the box), built
// on the asynchronous Producer.
//
//   auto s3 = aws::S3Client::create({.region = "us-east-1"});
//   auto store = S3PayloadStore::create(std::move(*s3), {.bucket = "my-large-payload-bucket"});
//   auto writer = KinesisWriter::create({
//       .stream_name = "my-kinesis-stream",
//       .payload_store = *store,
//       .log_group_id = "my-log-group-id",
//       .schema_name = "my-schema-name",
//       .account_id = "123456789012",
//       .distribution_factor = 10,
//       .large_payload_threshold = 1024,
//       .max_retries = 3,
//   });
//   std::vector<DataFileV1> records = ...;
//   Status s = (*writer)->write_batch(records);   // protobuf: SerializeToString
//
// Each record goes through the seed's pipeline: serialize, gzip (by
// default), claim-check to the payload store when the result exceeds
// large_payload_threshold (key "{logGroupId}-{schemaName}-{streamName}/{uuid}"),
// partition key "{logGroupId}-{schemaName}-{n}" with n spreading over
// distribution_factor keys. A consumer gets the payloads back with
// decode_payload() (payload_codec.h).
//
// For control over retries, KinesisWriterRetryer makes one attempt per
// execute() call, as the seed's KinesisWriterRetryer.Execute() does.
#ifndef SLUICE_KINESIS_KINESIS_WRITER_H_
#define SLUICE_KINESIS_KINESIS_WRITER_H_

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "sluice/core/result.h"
#include "sluice/core/status.h"
#include "sluice/kinesis/compression.h"
#include "sluice/kinesis/payload_codec.h"
#include "sluice/kinesis/payload_store.h"
#include "sluice/kinesis/producer.h"

namespace sluice::kinesis {

// Turns a record into the bytes sent (before compression).
template <class T>
using Serializer = std::function<Result<std::string>(const T&)>;

// A protobuf message (anything with SerializeToString), without depending
// on libprotobuf here.
template <class M>
concept ProtobufMessage = requires(const M& m, std::string* out) {
  { m.SerializeToString(out) } -> std::convertible_to<bool>;
};

template <ProtobufMessage M>
Result<std::string> serialize_protobuf(const M& message) {
  std::string out;
  if (!message.SerializeToString(&out)) {
    return Status::invalid_argument("protobuf serialization failed (required fields missing?)");
  }
  return out;
}

struct KinesisWriterOptions {
  // ---- The seed's parameters ---------------------------------------------------

  // The stream. Required.
  std::string stream_name{};
  // Where payloads over large_payload_threshold go (the seed's
  // dataFileEntryLargePayloadStore). Null: no claim-check, and a payload too
  // large for Kinesis fails.
  std::shared_ptr<PayloadStore> payload_store{};
  // With schema_name, names partition keys and claim-check keys.
  std::string log_group_id{};
  std::string schema_name{};
  // The AWS account id. Kept for the seed's API and logged; requests do not
  // need it (the client's credentials decide the account).
  std::string account_id{};
  // Partition keys spread over this many keys, >= 1. Default 1.
  int distribution_factor = 1;
  // Bytes (after compression) above which a payload is claim-checked.
  // 0: never. Needs payload_store.
  std::size_t large_payload_threshold = 0;
  // Retries of records that failed retryably (throttling, internal errors),
  // with exponential backoff. Default 3.
  int max_retries = 3;

  // ---- Beyond the seed -------------------------------------------------------------

  // The seed gzips every record; kNone sends payloads as they are.
  Compression compression = Compression::kGzip;
  int compression_level = 0;
  // The producer underneath: client, batching, aggregation, metrics, clock.
  // Its stream, payload, partition_keys and retry.max_retries are set from
  // the fields above (retry.backoff is used between attempts).
  ProducerOptions producer{};
};

// OK, or InvalidArgument naming the first bad field.
Status validate(const KinesisWriterOptions& options);

class KinesisWriterRetryer;

class KinesisWriter {
 public:
  static Result<std::unique_ptr<KinesisWriter>> create(KinesisWriterOptions options);
  ~KinesisWriter();
  KinesisWriter(const KinesisWriter&) = delete;
  KinesisWriter& operator=(const KinesisWriter&) = delete;

  // Writes every payload (already serialized): one attempt, then retries of
  // the records that failed retryably, up to max_retries, with backoff. OK
  // when all are written; else the error of the first record that could not
  // be, saying how many failed. `stop` cuts the backoff short (Cancelled).
  // Blocking; thread-safe.
  Status write_batch(std::span<const std::string> payloads, std::stop_token stop = {});
  // Records of any type, with a serializer.
  template <class T>
  Status write_batch(std::span<const T> records, const Serializer<T>& serialize,
                     std::stop_token stop = {}) {
    std::vector<std::string> payloads;
    payloads.reserve(records.size());
    for (const T& r : records) {
      Result<std::string> bytes = serialize(r);
      if (!bytes.ok())
        return bytes.status().with_context("serializing record " + std::to_string(payloads.size()));
      payloads.push_back(std::move(*bytes));
    }
    return write_batch(std::span<const std::string>(payloads), std::move(stop));
  }
  // Protobuf messages (the seed's DataFileV1).
  template <ProtobufMessage M>
  Status write_batch(const std::vector<M>& records, std::stop_token stop = {}) {
    return write_batch(std::span<const M>(records), Serializer<M>(&serialize_protobuf<M>),
                       std::move(stop));
  }

  // A retryer for these payloads, for callers who drive the retries.
  std::unique_ptr<KinesisWriterRetryer> make_retryer(std::vector<std::string> payloads);

  // Sends what is buffered and stops the producer (the destructor does it too).
  Status close();

  const KinesisWriterOptions& options() const { return options_; }
  Producer& producer() { return *producer_; }

 private:
  friend class KinesisWriterRetryer;
  KinesisWriter(KinesisWriterOptions options, PayloadEncoder encoder, PartitionKeyFn keys,
                std::unique_ptr<Producer> producer);

  KinesisWriterOptions options_;
  PayloadEncoder encoder_;
  PartitionKeyFn keys_;
  std::unique_ptr<Producer> producer_;
  Counter* large_payloads_ = nullptr;
};

// One batch of payloads and their progress; each execute() is one attempt
// at the records not written yet (the seed's KinesisWriterRetryer).
// Not thread-safe; the writer must outlive it.
class KinesisWriterRetryer {
 public:
  KinesisWriterRetryer(KinesisWriter& writer, std::vector<std::string> payloads);

  // Encodes (compresses, claim-checks) the records not encoded yet, sends
  // every record not written yet once, and waits for the outcome. true:
  // every record is written. false: some failed in a way a retry may fix
  // (call execute() again; only those are resent). An error: a record
  // failed in a way retrying cannot fix (validation, permissions, a missing
  // stream), or could not be encoded.
  Result<bool> execute();

  // Attempts made so far.
  int attempts() const { return attempts_; }
  // Records not written yet.
  std::size_t pending() const;
  // The last error of a record that is still pending (OK when none).
  Status last_error() const { return last_error_; }
  // Each record's result: its PutResult once written.
  const std::vector<std::optional<PutResult>>& results() const { return results_; }

 private:
  struct Item {
    std::string payload;
    std::string partition_key;
    std::optional<PreparedPayload> encoded;
    bool written = false;
  };
  KinesisWriter& writer_;
  std::vector<Item> items_;
  std::vector<std::optional<PutResult>> results_;
  int attempts_ = 0;
  Status last_error_;
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_KINESIS_WRITER_H_
