#include "sluice/aws/s3_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sluice::aws {
namespace {

bool is_ip_or_localhost(const std::string& host) {
  if (host == "localhost" || host.find(':') != std::string::npos) return true;  // IPv6
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
}

// A bucket name usable as a DNS label under TLS: lower-case letters,
// digits and hyphens (dots would break the wildcard certificate).
bool dns_compatible(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  if (bucket.front() == '-' || bucket.back() == '-') return false;
  return std::all_of(bucket.begin(), bucket.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '-';
  });
}

std::string xml_text(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  auto a = xml.find(open);
  if (a == std::string_view::npos) return "";
  a += open.size();
  auto b = xml.find(close, a);
  if (b == std::string_view::npos) return "";
  return std::string(xml.substr(a, b - a));
}

Status check_names(std::string_view op, const std::string& bucket, const std::string& key) {
  if (bucket.empty())
    return Status::invalid_argument("S3 " + std::string(op) + ": bucket is empty");
  if (key.empty()) return Status::invalid_argument("S3 " + std::string(op) + ": key is empty");
  if (key.size() > 1024) {
    return Status::invalid_argument("S3 " + std::string(op) + ": key longer than 1024 bytes");
  }
  return Status();
}

S3ObjectInfo info_from(const HttpResponse& r) {
  S3ObjectInfo info;
  auto len = r.header("content-length");
  std::from_chars(len.data(), len.data() + len.size(), info.content_length);
  info.content_type = std::string(r.header("content-type"));
  info.content_encoding = std::string(r.header("content-encoding"));
  info.etag = std::string(r.header("etag"));
  for (const auto& [k, v] : r.headers) {
    if (k.starts_with("x-amz-meta-")) info.metadata[k.substr(11)] = v;
  }
  return info;
}

}  // namespace

std::string s3_encode_key(std::string_view key) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size() * 3);
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

AwsErrorInfo parse_s3_error(const HttpResponse& r) {
  AwsErrorInfo e;
  e.http_status = r.status;
  e.type = xml_text(r.body, "Code");
  e.message = xml_text(r.body, "Message");
  e.request_id = xml_text(r.body, "RequestId");
  if (e.request_id.empty()) e.request_id = std::string(r.header("x-amz-request-id"));
  if (e.type.empty() && r.status == 404) e.type = "NotFound";  // HEAD replies have no body
  if (e.type.empty() && r.status == 503) e.type = "SlowDown";
  return e;
}

Result<std::unique_ptr<S3Client>> S3Client::create(ClientOptions options, S3Options s3) {
  SLUICE_ASSIGN_OR_RETURN(auto call,
                          AwsCall::create({.name = "S3", .signing_name = "s3", .s3_signing = true},
                                          std::move(options)));
  return std::unique_ptr<S3Client>(new S3Client(std::move(call), s3));
}

Result<std::string> S3Client::object_url(const std::string& bucket, const std::string& key) const {
  SLUICE_ASSIGN_OR_RETURN(UrlParts u, parse_url(call_->endpoint()));
  const bool path_style =
      s3_.force_path_style || is_ip_or_localhost(u.host) || !dns_compatible(bucket);
  std::string base = u.scheme + "://";
  std::string path = u.path == "/" ? "" : u.path;
  if (!path.empty() && path.back() == '/') path.pop_back();
  if (path_style) {
    base += u.host_header() + path + "/" + s3_encode_key(bucket);
  } else {
    UrlParts v = u;
    v.host = bucket + "." + u.host;
    base += v.host_header() + path;
  }
  return key.empty() ? base + "/" : base + "/" + s3_encode_key(key);
}

asio::awaitable<Result<std::string>> S3Client::put_object(std::string bucket, std::string key,
                                                          std::string body,
                                                          PutObjectOptions options,
                                                          CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_names("PutObject", bucket, key));
  HttpRequest r;
  r.method = "PUT";
  SLUICE_CO_ASSIGN_OR_RETURN(r.url, object_url(bucket, key));
  r.body = std::move(body);
  if (!options.content_type.empty()) r.headers.emplace_back("Content-Type", options.content_type);
  if (!options.content_encoding.empty()) {
    r.headers.emplace_back("Content-Encoding", options.content_encoding);
  }
  for (const auto& [k, v] : options.metadata) r.headers.emplace_back("x-amz-meta-" + k, v);
  auto pending = call_->send("PutObject", std::move(r), &parse_s3_error, call);
  Result<HttpResponse> res = co_await std::move(pending);
  if (!res.ok()) co_return res.status();
  co_return std::string(res->header("etag"));
}

asio::awaitable<Result<S3Object>> S3Client::get_object(std::string bucket, std::string key,
                                                       CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_names("GetObject", bucket, key));
  HttpRequest r;
  r.method = "GET";
  SLUICE_CO_ASSIGN_OR_RETURN(r.url, object_url(bucket, key));
  auto pending = call_->send("GetObject", std::move(r), &parse_s3_error, call);
  Result<HttpResponse> res = co_await std::move(pending);
  if (!res.ok()) co_return res.status();
  S3Object out;
  out.info = info_from(*res);
  out.body = std::move(res->body);
  if (out.body.size() != out.info.content_length && !res->header("content-length").empty()) {
    co_return Status::unavailable("S3 GetObject: body of " + std::to_string(out.body.size()) +
                                  " bytes, Content-Length " +
                                  std::to_string(out.info.content_length));
  }
  co_return out;
}

asio::awaitable<Result<S3ObjectInfo>> S3Client::head_object(std::string bucket, std::string key,
                                                            CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_names("HeadObject", bucket, key));
  HttpRequest r;
  r.method = "HEAD";
  SLUICE_CO_ASSIGN_OR_RETURN(r.url, object_url(bucket, key));
  auto pending = call_->send("HeadObject", std::move(r), &parse_s3_error, call);
  Result<HttpResponse> res = co_await std::move(pending);
  if (!res.ok()) co_return res.status();
  co_return info_from(*res);
}

asio::awaitable<Status> S3Client::delete_object(std::string bucket, std::string key,
                                                CallOptions call) {
  SLUICE_CO_RETURN_IF_ERROR(check_names("DeleteObject", bucket, key));
  HttpRequest r;
  r.method = "DELETE";
  SLUICE_CO_ASSIGN_OR_RETURN(r.url, object_url(bucket, key));
  auto pending = call_->send("DeleteObject", std::move(r), &parse_s3_error, call);
  Result<HttpResponse> res = co_await std::move(pending);
  co_return res.status();
}

asio::awaitable<Status> S3Client::create_bucket(std::string bucket, CallOptions call) {
  if (bucket.empty()) co_return Status::invalid_argument("S3 CreateBucket: bucket is empty");
  HttpRequest r;
  r.method = "PUT";
  SLUICE_CO_ASSIGN_OR_RETURN(r.url, object_url(bucket, ""));
  if (call_->region() != "us-east-1") {
    r.headers.emplace_back("Content-Type", "application/xml");
    r.body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        call_->region() + "</LocationConstraint></CreateBucketConfiguration>";
  }
  auto pending = call_->send("CreateBucket", std::move(r), &parse_s3_error, call);
  Result<HttpResponse> res = co_await std::move(pending);
  co_return res.status();
}

}  // namespace sluice::aws
