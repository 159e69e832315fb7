// Static, environment, refreshing and chained credential providers, and the
// helpers the network providers share.
#include "sluice/aws/credentials.h"

#include <simdjson.h>

#include <atomic>
#include <mutex>
#include <utility>

#include "aws/auth_util.h"
#include "aws/credentials_internal.h"
#include "sluice/aws/http_client.h"
#include "sluice/aws/sigv4.h"

namespace sluice::aws {

namespace ai = auth_internal;
namespace ci = credentials_internal;

namespace credentials_internal {

const Clock& clock_of(const CredentialsOptions& o) {
  return o.clock ? *o.clock : Clock::real();
}

Logger& logger_of(const CredentialsOptions& o) {
  return o.logger ? *o.logger : *make_noop_logger();
}

LazyHttpClient::LazyHttpClient(std::shared_ptr<HttpClient> given, std::chrono::milliseconds timeout)
    : client_(std::move(given)), timeout_(timeout) {}

HttpClient& LazyHttpClient::get() {
  std::lock_guard lock(mu_);
  if (!client_) {
    HttpClientOptions o;
    o.connect_timeout = std::min<std::chrono::milliseconds>(timeout_, std::chrono::seconds(5));
    o.request_timeout = timeout_ * 2;
    o.max_connections_per_host = 4;
    client_ = std::make_shared<HttpClient>(o);
  }
  return *client_;
}

Result<HttpResponse> send_with_retries(HttpClient& http, const HttpRequest& request, int attempts) {
  Result<HttpResponse> last = Status::internal("no attempt made");
  for (int i = 0; i < std::max(1, attempts); ++i) {
    last = http.send_blocking(request);
    if (last.ok() && last->status < 500) return last;
    if (!last.ok() && !last.status().retryable()) return last;
  }
  return last;
}

Result<Credentials> parse_credentials_json(std::string_view body, std::string_view what,
                                           std::string_view token_field, std::string* code) {
  auto bad = [&](const std::string& why) {
    return Status::corruption("malformed credentials from " + std::string(what) + ": " + why);
  };
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return bad("the reply is not a JSON object");
  }
  auto field = [&](std::string_view name) -> std::optional<std::string> {
    std::string_view v;
    if (doc[name].get(v) != simdjson::SUCCESS) return std::nullopt;
    return std::string(v);
  };
  if (code != nullptr) *code = field("Code").value_or("");
  Credentials c;
  auto key = field("AccessKeyId");
  auto secret = field("SecretAccessKey");
  if (!key || key->empty()) return bad("no AccessKeyId");
  if (!secret || secret->empty()) return bad("no SecretAccessKey");
  c.access_key_id = std::move(*key);
  c.secret_access_key = std::move(*secret);
  if (auto t = field(token_field)) c.session_token = std::move(*t);
  if (auto e = field("Expiration"); e && !e->empty()) {
    auto t = parse_iso8601_time(*e);
    if (!t.ok()) return bad("Expiration is not an ISO 8601 time");
    c.expiration = *t;
  }
  return c;
}

std::string role_session_name(const CredentialsOptions& o) {
  if (!o.role_session_name.empty()) return o.role_session_name;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      clock_of(o).wall_now().time_since_epoch())
                      .count();
  return "sluice-" + std::to_string(ms);
}

}  // namespace credentials_internal

namespace {

std::string describe_expiry(const Credentials& c, std::chrono::system_clock::time_point now) {
  if (!c.expiration) return "never";
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(*c.expiration - now);
  return format_amz_date(*c.expiration) + " (in " + std::to_string(left.count()) + "s)";
}

class StaticProvider final : public CredentialsProvider {
 public:
  explicit StaticProvider(Credentials c) : c_(std::move(c)) {}
  Result<Credentials> credentials() override {
    if (c_.access_key_id.empty() || c_.secret_access_key.empty()) {
      return Status::invalid_argument(
          "static credentials need both an access key id and a secret key");
    }
    return c_;
  }

 private:
  Credentials c_;
};

class EnvironmentProvider final : public CredentialsProvider {
 public:
  Result<Credentials> credentials() override {
    auto key = ai::env("AWS_ACCESS_KEY_ID");
    auto secret = ai::env("AWS_SECRET_ACCESS_KEY");
    if (!key && !secret) {
      return Status::not_found("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
    }
    if (!key) {
      return Status::invalid_argument("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    }
    if (!secret) {
      return Status::invalid_argument("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    }
    Credentials c;
    c.access_key_id = std::string(ai::trim(*key));
    c.secret_access_key = std::string(ai::trim(*secret));
    if (auto t = ai::env("AWS_SESSION_TOKEN")) c.session_token = std::string(ai::trim(*t));
    c.source = "environment";
    return c;
  }
};

class RefreshingProvider final : public CredentialsProvider {
 public:
  RefreshingProvider(std::string name, std::function<Result<Credentials>()> fetch,
                     CredentialsOptions o)
      : name_(std::move(name)), fetch_(std::move(fetch)), o_(std::move(o)) {}

  Result<Credentials> credentials() override {
    std::lock_guard lock(mu_);
    const Clock& clock = ci::clock_of(o_);
    Logger& log = ci::logger_of(o_);
    const auto wall = clock.wall_now();
    if (cached_) {
      const bool valid = !cached_->expiration || wall < *cached_->expiration;
      const bool fresh =
          !cached_->expiration || wall < *cached_->expiration - o_.refresh_before_expiry;
      if (fresh) return *cached_;
      if (valid && clock.now() < next_attempt_) return *cached_;
    }
    Result<Credentials> r = Status::internal("credentials fetch threw");
    try {
      r = fetch_();
    } catch (const std::exception& e) {
      r = Status::internal(name_ + ": credentials fetch threw: " + e.what());
    }
    if (r.ok() && (r->access_key_id.empty() || r->secret_access_key.empty())) {
      r = Status::corruption(name_ + " returned credentials without a key");
    }
    if (r.ok()) {
      const bool first = !cached_;
      cached_ = *r;
      if (cached_->source.empty()) cached_->source = name_;
      // Credentials that expire within the refresh window are not fetched
      // again at every call: wait refresh_retry_interval first.
      if (cached_->expiration && *cached_->expiration - o_.refresh_before_expiry <= wall) {
        next_attempt_ = clock.now() + o_.refresh_retry_interval;
        log.warn("AWS credentials expire within the refresh window",
                 {{"provider", name_}, {"expires", describe_expiry(*cached_, wall)}});
      }
      log.log(first ? LogLevel::kDebug : LogLevel::kInfo,
              first ? "fetched AWS credentials" : "refreshed AWS credentials",
              {{"provider", name_},
               {"access_key_id", cached_->access_key_id},
               {"expires", describe_expiry(*cached_, wall)}});
      return *cached_;
    }
    if (cached_ && (!cached_->expiration || wall < *cached_->expiration)) {
      next_attempt_ = clock.now() + o_.refresh_retry_interval;
      log.warn("AWS credentials refresh failed; using the cached ones until they expire",
               {{"provider", name_},
                {"expires", describe_expiry(*cached_, wall)},
                {"error", r.status()}});
      return *cached_;
    }
    return r.status();
  }

 private:
  const std::string name_;
  const std::function<Result<Credentials>()> fetch_;
  const CredentialsOptions o_;
  std::mutex mu_;
  std::optional<Credentials> cached_;
  Clock::TimePoint next_attempt_{};
};

class ChainProvider final : public CredentialsProvider {
 public:
  ChainProvider(std::vector<NamedCredentialsProvider> providers, CredentialsOptions o)
      : providers_(std::move(providers)), o_(std::move(o)) {}

  Result<Credentials> credentials() override {
    Logger& log = ci::logger_of(o_);
    const int last = last_.load();
    if (last >= 0) {
      auto r = providers_[last].provider->credentials();
      if (r.ok()) return r;
      log.warn("AWS credentials provider stopped answering; trying the whole chain",
               {{"provider", providers_[last].name}, {"error", r.status()}});
    }
    std::string tried;
    for (std::size_t i = 0; i < providers_.size(); ++i) {
      auto r = providers_[i].provider->credentials();
      if (r.ok()) {
        if (last_.exchange(static_cast<int>(i)) != static_cast<int>(i)) {
          log.info("using AWS credentials",
                   {{"provider", providers_[i].name}, {"access_key_id", r->access_key_id}});
        }
        return r;
      }
      log.debug("AWS credentials provider has none",
                {{"provider", providers_[i].name}, {"reason", r.status()}});
      if (!tried.empty()) tried += "; ";
      tried += providers_[i].name + ": " + std::string(r.status().message());
    }
    last_.store(-1);
    return Status::permission_denied(
        "no AWS credentials found. Tried, in order: " + tried +
        ". Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, pick a profile with AWS_PROFILE, or run "
        "where a role is available (container, EC2, web identity)");
  }

 private:
  const std::vector<NamedCredentialsProvider> providers_;
  const CredentialsOptions o_;
  std::atomic<int> last_{-1};
};

}  // namespace

std::shared_ptr<CredentialsProvider> make_static_credentials(std::string access_key_id,
                                                             std::string secret_access_key,
                                                             std::string session_token) {
  Credentials c;
  c.access_key_id = std::move(access_key_id);
  c.secret_access_key = std::move(secret_access_key);
  c.session_token = std::move(session_token);
  c.source = "static";
  return std::make_shared<StaticProvider>(std::move(c));
}

std::shared_ptr<CredentialsProvider> make_environment_credentials() {
  return std::make_shared<EnvironmentProvider>();
}

std::shared_ptr<CredentialsProvider> make_refreshing_credentials(
    std::string name, std::function<Result<Credentials>()> fetch, CredentialsOptions options) {
  return std::make_shared<RefreshingProvider>(std::move(name), std::move(fetch),
                                              std::move(options));
}

std::shared_ptr<CredentialsProvider> make_credentials_chain(
    std::vector<NamedCredentialsProvider> providers, CredentialsOptions options) {
  return std::make_shared<ChainProvider>(std::move(providers), std::move(options));
}

std::shared_ptr<CredentialsProvider> make_default_credentials_chain(CredentialsOptions options) {
  const std::string profile = options.profile.empty() ? default_profile_name() : options.profile;
  std::vector<NamedCredentialsProvider> providers = {
      {"environment", make_environment_credentials()},
      {"web identity", make_web_identity_credentials(options)},
      {"profile \"" + profile + "\"", make_profile_credentials(options)},
      {"container", make_container_credentials(options)},
      {"instance metadata", make_instance_metadata_credentials(options)},
  };
  return make_credentials_chain(std::move(providers), std::move(options));
}

}  // namespace sluice::aws
