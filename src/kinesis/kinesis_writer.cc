#include "sluice/kinesis/kinesis_writer.h"

#include <condition_variable>
#include <mutex>

#include "sluice/core/backoff.h"

namespace sluice::kinesis {

Status validate(const KinesisWriterOptions& o) {
  if (o.stream_name.empty()) {
    return Status::invalid_argument("KinesisWriterOptions.stream_name: name the stream");
  }
  if (o.distribution_factor < 1) {
    return Status::invalid_argument(
        "KinesisWriterOptions.distribution_factor: must be at least 1, got " +
        std::to_string(o.distribution_factor));
  }
  if (o.max_retries < -1) {
    return Status::invalid_argument(
        "KinesisWriterOptions.max_retries: must be -1 (forever) or more, got " +
        std::to_string(o.max_retries));
  }
  if (o.large_payload_threshold > 0 && !o.payload_store) {
    return Status::invalid_argument(
        "KinesisWriterOptions.payload_store: large_payload_threshold is set but no store is given");
  }
  return Status();
}

namespace {

ProducerOptions producer_options(const KinesisWriterOptions& o) {
  ProducerOptions p = o.producer;
  p.stream = aws::StreamRef{.name = o.stream_name};
  p.payload = PayloadOptions{};  // the writer encodes, so that retries reuse the encoding
  p.partition_keys = nullptr;
  p.retry.max_retries = o.max_retries;
  return p;
}

}  // namespace

Result<std::unique_ptr<KinesisWriter>> KinesisWriter::create(KinesisWriterOptions options) {
  SLUICE_RETURN_IF_ERROR(validate(options));
  PayloadOptions payload;
  payload.compression = options.compression;
  payload.compression_level = options.compression_level;
  payload.store = options.payload_store;
  payload.large_payload_threshold = options.large_payload_threshold;
  payload.key_prefix = options.log_group_id + "-" + options.schema_name + "-" + options.stream_name;
  auto encoder = PayloadEncoder::create(std::move(payload));
  if (!encoder.ok()) return encoder.status().with_context("KinesisWriterOptions");
  SLUICE_ASSIGN_OR_RETURN(
      PartitionKeyFn keys,
      seed_partition_keys(options.log_group_id, options.schema_name, options.distribution_factor));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Producer> producer,
                          Producer::create(producer_options(options)));
  auto writer = std::unique_ptr<KinesisWriter>(new KinesisWriter(
      std::move(options), std::move(*encoder), std::move(keys), std::move(producer)));
  const ProducerOptions& po = writer->producer_->options();
  writer->large_payloads_ =
      &registry_or_global(po.metrics)
           .counter("kinesis_large_payloads_total",
                    "Payloads stored in the PayloadStore (claim-check)", {"stream_name"})
           .with({po.stream.display()});
  if (po.logger) {
    po.logger->info("kinesis writer ready", {{"stream", writer->options_.stream_name},
                                             {"account_id", writer->options_.account_id},
                                             {"log_group_id", writer->options_.log_group_id},
                                             {"schema_name", writer->options_.schema_name}});
  }
  return writer;
}

KinesisWriter::KinesisWriter(KinesisWriterOptions options, PayloadEncoder encoder,
                             PartitionKeyFn keys, std::unique_ptr<Producer> producer)
    : options_(std::move(options)),
      encoder_(std::move(encoder)),
      keys_(std::move(keys)),
      producer_(std::move(producer)) {}

KinesisWriter::~KinesisWriter() = default;

Status KinesisWriter::close() {
  return producer_->close();
}

std::unique_ptr<KinesisWriterRetryer> KinesisWriter::make_retryer(
    std::vector<std::string> payloads) {
  return std::make_unique<KinesisWriterRetryer>(*this, std::move(payloads));
}

Status KinesisWriter::write_batch(std::span<const std::string> payloads, std::stop_token stop) {
  if (payloads.empty()) return Status();
  KinesisWriterRetryer retryer(*this, std::vector<std::string>(payloads.begin(), payloads.end()));
  RetryPolicy policy = producer_->options().retry;
  policy.max_retries = options_.max_retries;
  Backoff backoff(policy);
  const Clock& clock = producer_->options().clock ? *producer_->options().clock : Clock::real();
  while (true) {
    Result<bool> done = retryer.execute();
    if (!done.ok()) return done.status();
    if (*done) return Status();
    std::optional<std::chrono::nanoseconds> delay = backoff.next();
    if (!delay) {
      Status last = retryer.last_error();
      return Status(last.code(),
                    std::to_string(retryer.pending()) + " of " + std::to_string(payloads.size()) +
                        " records not written after " + std::to_string(retryer.attempts()) +
                        " attempts: " + std::string(last.message()),
                    last.retryable());
    }
    if (!clock.sleep_for(*delay, stop)) {
      return Status::cancelled("write_batch stopped with " + std::to_string(retryer.pending()) +
                               " records not written");
    }
  }
}

KinesisWriterRetryer::KinesisWriterRetryer(KinesisWriter& writer, std::vector<std::string> payloads)
    : writer_(writer), results_(payloads.size()) {
  items_.reserve(payloads.size());
  for (auto& p : payloads) {
    Item item;
    item.partition_key = writer_.keys_(p);
    item.payload = std::move(p);
    items_.push_back(std::move(item));
  }
}

std::size_t KinesisWriterRetryer::pending() const {
  std::size_t n = 0;
  for (const auto& i : items_) n += i.written ? 0 : 1;
  return n;
}

Result<bool> KinesisWriterRetryer::execute() {
  ++attempts_;
  last_error_ = Status();
  // Encode what is not encoded yet (compression, claim-check upload).
  for (auto& item : items_) {
    if (item.written || item.encoded) continue;
    Result<PreparedPayload> encoded = writer_.encoder_.encode(item.payload);
    if (!encoded.ok()) {
      Status s = encoded.status().with_context("encoding a payload");
      if (!s.retryable()) return s;
      last_error_ = s;
      continue;
    }
    if (encoded->claim_checked()) writer_.large_payloads_->inc();
    item.encoded = std::move(*encoded);
  }

  struct Outcome {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t outstanding = 0;
    std::vector<std::pair<std::size_t, Result<PutResult>>> results;
  };
  auto outcome = std::make_shared<Outcome>();
  PutOptions once;
  once.max_retries = 0;  // this attempt only; the caller decides on retries
  Status refused;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    Item& item = items_[i];
    if (item.written || !item.encoded) continue;
    UserRecord record{.partition_key = item.partition_key, .data = item.encoded->data};
    {
      std::lock_guard lock(outcome->mu);
      ++outcome->outstanding;
    }
    Status s = writer_.producer_->put(
        std::move(record),
        [outcome, i](const Result<PutResult>& r) {
          std::lock_guard lock(outcome->mu);
          outcome->results.emplace_back(i, r);
          if (--outcome->outstanding == 0) outcome->cv.notify_all();
        },
        once);
    if (!s.ok()) {
      std::lock_guard lock(outcome->mu);
      --outcome->outstanding;
      refused = s;
      break;
    }
  }
  writer_.producer_->flush();
  {
    std::unique_lock lock(outcome->mu);
    outcome->cv.wait(lock, [&] { return outcome->outstanding == 0; });
  }
  Status permanent;
  for (auto& [index, r] : outcome->results) {
    if (r.ok()) {
      items_[index].written = true;
      results_[index] = *r;
    } else if (r.status().retryable()) {
      if (last_error_.ok()) last_error_ = r.status();
    } else if (permanent.ok()) {
      permanent = r.status();
    }
  }
  if (!refused.ok()) return refused;
  if (!permanent.ok()) {
    return Status(permanent.code(),
                  std::to_string(pending()) + " of " + std::to_string(items_.size()) +
                      " records not written: " + std::string(permanent.message()),
                  false);
  }
  return pending() == 0;
}

}  // namespace sluice::kinesis
