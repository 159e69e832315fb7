// PartialFailureProxy: sits in front of kinesalite and turns PutRecords
// requests into real partial failures. The entries a rule picks are not
// forwarded (so they are not written) and come back with an ErrorCode; the
// others are forwarded and written, and their results are merged back in
// request order. Every other call is forwarded unchanged. (The shared
// FaultProxy can only fail whole requests or answer without forwarding.)
#ifndef SLUICE_TESTS_INTEGRATION_KINESIS_PRODUCER_PARTIAL_PROXY_H_
#define SLUICE_TESTS_INTEGRATION_KINESIS_PRODUCER_PARTIAL_PROXY_H_

#include <simdjson.h>

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sluice/aws/http_client.h"
#include "sluice/core/json_writer.h"
#include "support/local_http_server.h"

namespace sluice::kinesis::producer_test {

class PartialFailureProxy {
 public:
  // Returns the error code for entry `entry` of PutRecords request
  // `request` (from 0), or nullopt to forward it.
  using Rule = std::function<std::optional<std::string>(int request, int entry)>;

  PartialFailureProxy(std::string upstream, Rule rule)
      : upstream_(std::move(upstream)),
        rule_(std::move(rule)),
        server_([this](const sluice::testing::RecordedRequest& r) { return handle(r); }) {}

  std::string url() const { return server_.url(); }
  int failed_entries() const {
    std::lock_guard lock(mu_);
    return failed_;
  }
  int put_requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  sluice::testing::LocalHttpResponse forward(const sluice::testing::RecordedRequest& r,
                                             std::string body) {
    aws::HttpRequest req;
    req.method = r.method;
    req.url = upstream_ + r.target;
    for (const auto& [k, v] : r.headers) {
      std::string lower = k;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "host" || lower == "content-length" || lower == "connection" ||
          lower == "transfer-encoding" || lower == "expect") {
        continue;
      }
      req.headers.emplace_back(k, v);
    }
    req.body = std::move(body);
    auto resp = http_.send_blocking(std::move(req));
    sluice::testing::LocalHttpResponse out;
    if (!resp.ok()) {
      out.status = 502;
      out.body = std::string(resp.status().message());
      return out;
    }
    out.status = resp->status;
    for (const auto& [k, v] : resp->headers) {
      if (k == "content-length" || k == "connection" || k == "transfer-encoding") continue;
      out.headers.emplace_back(k, v);
    }
    out.body = resp->body;
    return out;
  }

  sluice::testing::LocalHttpResponse handle(const sluice::testing::RecordedRequest& r) {
    if (!r.header("X-Amz-Target").ends_with(".PutRecords")) return forward(r, r.body);
    int index;
    {
      std::lock_guard lock(mu_);
      index = requests_++;
    }
    simdjson::dom::parser parser;
    simdjson::padded_string padded(r.body);
    simdjson::dom::element doc = parser.parse(padded);
    std::vector<std::optional<std::string>> errors;
    std::string body;
    JsonWriter w(body);
    w.begin_object().field("StreamName", std::string(std::string_view(doc["StreamName"])));
    w.key("Records").begin_array();
    int i = 0;
    int forwarded = 0;
    for (simdjson::dom::element e : doc["Records"].get_array()) {
      errors.push_back(rule_(index, i++));
      if (errors.back()) continue;
      w.raw(simdjson::to_string(e));
      ++forwarded;
    }
    w.end_array().end_object();
    std::vector<std::string> results;  // forwarded entries' results, in order
    if (forwarded > 0) {
      auto reply = forward(r, body);
      if (reply.status != 200) return reply;
      simdjson::dom::parser p2;
      simdjson::padded_string padded2(reply.body);
      simdjson::dom::element d2 = p2.parse(padded2);
      for (simdjson::dom::element e : d2["Records"].get_array()) {
        results.push_back(std::string(simdjson::to_string(e)));
      }
    }
    std::string out;
    JsonWriter o(out);
    int failed = 0;
    o.begin_object().key("Records").begin_array();
    std::size_t next = 0;
    for (const auto& err : errors) {
      if (err) {
        ++failed;
        o.begin_object()
            .field("ErrorCode", *err)
            .field("ErrorMessage", "injected by the proxy")
            .end_object();
      } else {
        o.raw(results.at(next++));
      }
    }
    o.end_array().field("FailedRecordCount", failed).end_object();
    {
      std::lock_guard lock(mu_);
      failed_ += failed;
    }
    sluice::testing::LocalHttpResponse resp;
    resp.headers = {{"Content-Type", "application/x-amz-json-1.1"}};
    resp.body = out;
    return resp;
  }

  std::string upstream_;
  Rule rule_;
  aws::HttpClient http_;
  mutable std::mutex mu_;
  int requests_ = 0;
  int failed_ = 0;
  sluice::testing::LocalHttpServer server_;  // last: stops first
};

}  // namespace sluice::kinesis::producer_test

#endif  // SLUICE_TESTS_INTEGRATION_KINESIS_PRODUCER_PARTIAL_PROXY_H_
