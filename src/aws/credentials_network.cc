// Credential providers that ask a service: container credentials, EC2
// instance metadata, and STS (web identity and assume role).
#include <algorithm>
#include <mutex>
#include <utility>

#include "aws/auth_util.h"
#include "aws/credentials_internal.h"
#include "sluice/aws/config.h"
#include "sluice/aws/credentials.h"
#include "sluice/aws/http_client.h"
#include "sluice/aws/sigv4.h"

namespace sluice::aws {

namespace ai = auth_internal;
namespace ci = credentials_internal;

namespace {

HttpRequest make_request(std::string method, std::string url) {
  HttpRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  return r;
}

// A header value must not smuggle in more headers.
bool safe_header_value(std::string_view v) {
  return v.find_first_of("\r\n") == std::string_view::npos;
}

// "HTTP 403: <short body>" for replies that are not what we asked for.
std::string describe_reply(const HttpResponse& r) {
  std::string s = "HTTP " + std::to_string(r.status);
  const std::string body = ai::truncate_for_message(r.body, 200);
  if (!body.empty()) s += ": " + body;
  return s;
}

Status status_for_http(int status, std::string message) {
  if (status == 429) return Status::throttled(std::move(message));
  if (status >= 500) return Status::unavailable(std::move(message));
  if (status == 401 || status == 403) return Status::permission_denied(std::move(message));
  if (status == 404) return Status::not_found(std::move(message));
  return Status(StatusCode::kUnavailable, std::move(message), false);
}

// --- container credentials ------------------------------------------------------

constexpr std::string_view kEcsHost = "http://169.254.170.2";

bool allowed_http_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "169.254.170.2" || host == "169.254.170.23" ||
      ai::iequals(host, "fd00:ec2::23")) {
    return true;
  }
  return host.starts_with("127.");  // the IPv4 loopback range 127.0.0.0/8
}

Result<Credentials> fetch_container(const CredentialsOptions& o, ci::LazyHttpClient& http) {
  std::string url;
  if (auto rel = ai::env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    url = std::string(kEcsHost) + (rel->starts_with('/') ? "" : "/") + *rel;
  } else if (auto full = ai::env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    auto parts = parse_url(*full);
    if (!parts.ok()) {
      return Status::invalid_argument("AWS_CONTAINER_CREDENTIALS_FULL_URI: " +
                                      std::string(parts.status().message()));
    }
    if (parts->scheme == "http" && !allowed_http_host(parts->host)) {
      return Status::invalid_argument(
          "AWS_CONTAINER_CREDENTIALS_FULL_URI uses http:// with host " + parts->host +
          ": plain HTTP is only allowed to a loopback address or the ECS/EKS agent "
          "(169.254.170.2, 169.254.170.23, fd00:ec2::23); use https://");
    }
    url = *full;
  } else {
    return Status::not_found(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not "
        "set");
  }
  HttpRequest req = make_request("GET", url);
  req.headers.emplace_back("Accept", "application/json");
  std::string token;
  if (auto file = ai::env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    auto text = ai::read_text_file(*file);
    if (!text.ok()) {
      return Status::io_error("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: " +
                              std::string(text.status().message()));
    }
    token = std::string(ai::trim(*text));
  } else if (auto t = ai::env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    token = *t;
  }
  if (!token.empty()) {
    if (!safe_header_value(token)) {
      return Status::invalid_argument("the container authorization token contains a line break");
    }
    req.headers.emplace_back("Authorization", token);
  }
  const std::string where = url.substr(0, url.find('?'));
  auto reply = ci::send_with_retries(http.get(), req, o.metadata_attempts);
  if (!reply.ok()) return reply.status().with_context("container credentials from " + where);
  if (reply->status != 200) {
    return status_for_http(reply->status,
                           "container credentials from " + where + ": " + describe_reply(*reply));
  }
  auto c = ci::parse_credentials_json(reply->body, "the container credentials endpoint", "Token");
  if (!c.ok()) return c.status();
  c->source = "container";
  return c;
}

// --- EC2 instance metadata --------------------------------------------------------

class InstanceMetadata {
 public:
  explicit InstanceMetadata(CredentialsOptions o)
      : o_(std::move(o)), http_(o_.http, o_.metadata_timeout) {}

  Result<Credentials> fetch() {
    if (ai::env_true("AWS_EC2_METADATA_DISABLED")) {
      return Status::not_found("disabled by AWS_EC2_METADATA_DISABLED");
    }
    SLUICE_ASSIGN_OR_RETURN(const std::string base, endpoint());
    const std::string list_url = base + "/latest/meta-data/iam/security-credentials/";
    auto roles = get(base, list_url);
    if (!roles.ok()) return roles.status();
    std::string_view role = ai::trim(*roles);
    role = role.substr(0, role.find('\n'));
    role = ai::trim(role);
    if (role.empty()) return Status::not_found("no IAM role is attached to this instance");
    auto body = get(base, list_url + std::string(role));
    if (!body.ok()) return body.status();
    std::string code;
    auto c = ci::parse_credentials_json(*body, "instance metadata", "Token", &code);
    if (!code.empty() && code != "Success") {
      return Status::unavailable("instance metadata has no credentials for role " +
                                 std::string(role) + " (Code " +
                                 ai::truncate_for_message(code, 60) + ")");
    }
    if (c.ok()) c->source = "imds";
    return c;
  }

 private:
  Result<std::string> endpoint() const {
    if (auto e = ai::env("AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
      std::string url = std::string(ai::trim(*e));
      auto parts = parse_url(url);
      if (!parts.ok()) {
        return Status::invalid_argument("AWS_EC2_METADATA_SERVICE_ENDPOINT: " +
                                        std::string(parts.status().message()));
      }
      while (!url.empty() && url.back() == '/') url.pop_back();
      return url;
    }
    if (auto mode = ai::env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")) {
      if (ai::iequals(ai::trim(*mode), "ipv6")) return std::string("http://[fd00:ec2::254]");
      if (!ai::iequals(ai::trim(*mode), "ipv4")) {
        return Status::invalid_argument(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6");
      }
    }
    return std::string("http://169.254.169.254");
  }

  // The session token, or "" to go on without one (IMDSv1).
  Result<std::string> token(const std::string& base) {
    const Clock& clock = ci::clock_of(o_);
    std::lock_guard lock(mu_);
    if (!token_.empty() && clock.now() < token_expiry_) return token_;
    HttpRequest req = make_request("PUT", base + "/latest/api/token");
    req.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds",
                             std::to_string(kTokenTtlSeconds));
    auto reply = ci::send_with_retries(http_.get(), req, o_.metadata_attempts);
    if (!reply.ok()) return reply.status().with_context("instance metadata at " + base);
    if (reply->status == 200) {
      std::string t(ai::trim(reply->body));
      if (t.empty() || !safe_header_value(t)) {
        return Status::corruption("instance metadata returned an unusable session token");
      }
      token_ = std::move(t);
      // Renew a minute early.
      token_expiry_ = clock.now() + std::chrono::seconds(kTokenTtlSeconds - 60);
      return token_;
    }
    if ((reply->status == 403 || reply->status == 404 || reply->status == 405) &&
        !ai::env_true("AWS_EC2_METADATA_V1_DISABLED")) {
      ci::logger_of(o_).debug("instance metadata refused a session token; using IMDSv1",
                              {{"status", reply->status}});
      return std::string();
    }
    return status_for_http(reply->status, "instance metadata token request to " + base + ": " +
                                              describe_reply(*reply));
  }

  Result<std::string> get(const std::string& base, const std::string& url) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      SLUICE_ASSIGN_OR_RETURN(const std::string t, token(base));
      HttpRequest req = make_request("GET", url);
      if (!t.empty()) req.headers.emplace_back("X-aws-ec2-metadata-token", t);
      auto reply = ci::send_with_retries(http_.get(), req, o_.metadata_attempts);
      if (!reply.ok()) return reply.status().with_context("instance metadata at " + base);
      if (reply->status == 200) return std::move(reply->body);
      if (reply->status == 401 && attempt == 0) {
        std::lock_guard lock(mu_);
        token_.clear();  // expired or revoked: get a new one
        continue;
      }
      if (reply->status == 404) {
        return Status::not_found("no IAM role credentials in instance metadata (HTTP 404)");
      }
      return status_for_http(reply->status, "instance metadata " + url.substr(base.size()) + ": " +
                                                describe_reply(*reply));
    }
    return Status::permission_denied("instance metadata rejected a fresh session token");
  }

  static constexpr int kTokenTtlSeconds = 21600;
  const CredentialsOptions o_;
  ci::LazyHttpClient http_;
  std::mutex mu_;
  std::string token_;
  Clock::TimePoint token_expiry_{};
};

// --- STS ---------------------------------------------------------------------------

struct StsTarget {
  std::string url;
  std::string signing_region;
};

Result<StsTarget> sts_target(const CredentialsOptions& o) {
  std::string region = o.sts_region;
  SharedConfig config;
  if (auto loaded = load_shared_config(o.files); loaded.ok()) config = std::move(*loaded);
  if (region.empty()) {
    auto r = resolve_region("", o.profile, config);
    if (r.ok()) region = *r;
  }
  StsTarget t;
  t.signing_region = region.empty() ? "us-east-1" : region;
  auto url = resolve_endpoint("STS", "sts", region, o.sts_endpoint, o.profile, config);
  if (url.ok()) {
    t.url = *url;
  } else if (region.empty()) {
    t.url = "https://sts.amazonaws.com";  // the global endpoint
  } else {
    return url.status();
  }
  return t;
}

Status sts_error(const HttpResponse& reply, std::string_view action) {
  const std::string code = ai::xml_text(reply.body, "Code").value_or("");
  const std::string message = ai::xml_text(reply.body, "Message").value_or("");
  std::string text = "STS " + std::string(action) + " failed: HTTP " + std::to_string(reply.status);
  if (!code.empty()) text += " " + code;
  if (!message.empty()) text += ": " + ai::truncate_for_message(message, 300);
  if (code == "Throttling" || code == "ThrottlingException" || reply.status == 429) {
    return Status::throttled(text);
  }
  if (code == "IDPCommunicationError") return Status::unavailable(text);
  if (reply.status >= 500) return Status::unavailable(text);
  return Status::permission_denied(text);
}

Result<Credentials> parse_sts_credentials(const HttpResponse& reply, std::string_view action) {
  const auto creds_start = reply.body.find("<Credentials>");
  if (creds_start == std::string::npos) {
    return Status::corruption("STS " + std::string(action) + " reply has no <Credentials>");
  }
  const std::string_view xml = std::string_view(reply.body).substr(creds_start);
  Credentials c;
  c.access_key_id = ai::xml_text(xml, "AccessKeyId").value_or("");
  c.secret_access_key = ai::xml_text(xml, "SecretAccessKey").value_or("");
  c.session_token = ai::xml_text(xml, "SessionToken").value_or("");
  if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty()) {
    return Status::corruption("STS " + std::string(action) + " reply lacks a key or session token");
  }
  if (auto e = ai::xml_text(xml, "Expiration")) {
    auto t = parse_iso8601_time(*e);
    if (!t.ok()) return Status::corruption("STS " + std::string(action) + " reply: bad Expiration");
    c.expiration = *t;
  }
  return c;
}

HttpRequest sts_request(const std::string& url, std::string body) {
  HttpRequest req = make_request("POST", url + "/");
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  req.headers.emplace_back("Accept", "text/xml");
  req.body = std::move(body);
  return req;
}

}  // namespace

namespace credentials_internal {

Result<Credentials> assume_role_with_web_identity(const CredentialsOptions& o, HttpClient& http,
                                                  const std::string& role_arn,
                                                  const std::string& session_name,
                                                  const std::string& web_identity_token) {
  SLUICE_ASSIGN_OR_RETURN(const StsTarget target, sts_target(o));
  HttpRequest req = sts_request(
      target.url, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" +
                      uri_encode(role_arn) + "&RoleSessionName=" + uri_encode(session_name) +
                      "&WebIdentityToken=" + uri_encode(web_identity_token));
  auto reply = send_with_retries(http, req, 2);
  if (!reply.ok())
    return reply.status().with_context("STS AssumeRoleWithWebIdentity at " + target.url);
  if (reply->status != 200) return sts_error(*reply, "AssumeRoleWithWebIdentity");
  auto c = parse_sts_credentials(*reply, "AssumeRoleWithWebIdentity");
  if (c.ok()) c->source = "web-identity";
  return c;
}

Result<Credentials> assume_role(const CredentialsOptions& o, HttpClient& http,
                                const Credentials& source, const AssumeRoleParams& params) {
  SLUICE_ASSIGN_OR_RETURN(const StsTarget target, sts_target(o));
  std::string body = "Action=AssumeRole&Version=2011-06-15&RoleArn=" + uri_encode(params.role_arn) +
                     "&RoleSessionName=" + uri_encode(params.session_name);
  if (!params.external_id.empty()) body += "&ExternalId=" + uri_encode(params.external_id);
  if (params.duration_seconds > 0) {
    body += "&DurationSeconds=" + std::to_string(params.duration_seconds);
  }
  HttpRequest req = sts_request(target.url, std::move(body));
  SigV4Options sig;
  sig.region = target.signing_region;
  sig.service = "sts";
  sig.time = clock_of(o).wall_now();
  auto signed_ = sign_request(req, source, sig);
  if (!signed_.ok()) return signed_.status().with_context("signing STS AssumeRole");
  auto reply = send_with_retries(http, req, 2);
  if (!reply.ok()) return reply.status().with_context("STS AssumeRole at " + target.url);
  if (reply->status != 200) return sts_error(*reply, "AssumeRole");
  auto c = parse_sts_credentials(*reply, "AssumeRole");
  if (c.ok()) c->source = "assume-role " + params.role_arn;
  return c;
}

Result<Credentials> fetch_web_identity(const CredentialsOptions& o, HttpClient& http,
                                       const std::string& token_file, const std::string& role_arn,
                                       const std::string& session_name) {
  auto token = ai::read_text_file(ai::expand_home(token_file));
  if (!token.ok()) {
    return Status::io_error("web identity token file: " + std::string(token.status().message()));
  }
  const std::string t(ai::trim(*token));
  if (t.empty())
    return Status::invalid_argument("web identity token file " + token_file + " is empty");
  return assume_role_with_web_identity(o, http, role_arn, session_name, t);
}

}  // namespace credentials_internal

std::shared_ptr<CredentialsProvider> make_container_credentials(CredentialsOptions options) {
  auto http = std::make_shared<ci::LazyHttpClient>(options.http, options.metadata_timeout);
  auto o = std::make_shared<const CredentialsOptions>(options);
  return make_refreshing_credentials(
      "container", [o, http] { return fetch_container(*o, *http); }, std::move(options));
}

std::shared_ptr<CredentialsProvider> make_instance_metadata_credentials(
    CredentialsOptions options) {
  auto imds = std::make_shared<InstanceMetadata>(options);
  return make_refreshing_credentials(
      "instance metadata", [imds] { return imds->fetch(); }, std::move(options));
}

std::shared_ptr<CredentialsProvider> make_web_identity_credentials(CredentialsOptions options) {
  auto http = std::make_shared<ci::LazyHttpClient>(options.http, options.sts_timeout);
  auto o = std::make_shared<const CredentialsOptions>(options);
  auto session = std::make_shared<std::string>();
  auto mu = std::make_shared<std::mutex>();
  auto fetch = [o, http, session, mu]() -> Result<Credentials> {
    auto file = ai::env("AWS_WEB_IDENTITY_TOKEN_FILE");
    auto role = ai::env("AWS_ROLE_ARN");
    if (!file && !role)
      return Status::not_found("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set");
    if (!file)
      return Status::invalid_argument("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
    if (!role)
      return Status::invalid_argument("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
    std::string name;
    if (auto n = ai::env("AWS_ROLE_SESSION_NAME")) {
      name = *n;
    } else {
      std::lock_guard lock(*mu);
      if (session->empty()) *session = ci::role_session_name(*o);  // one name per provider
      name = *session;
    }
    return ci::fetch_web_identity(*o, http->get(), *file, *role, name);
  };
  return make_refreshing_credentials("web identity", std::move(fetch), std::move(options));
}

}  // namespace sluice::aws
