// Credentials from the shared configuration files: static keys, assumed
// roles (source_profile / credential_source / web identity) and
// credential_process.
#include <sys/wait.h>

#include <cstdio>
#include <mutex>
#include <set>
#include <utility>

#include "aws/auth_util.h"
#include "aws/credentials_internal.h"
#include "sluice/aws/credentials.h"
#include "sluice/aws/http_client.h"

namespace sluice::aws {

namespace ai = auth_internal;
namespace ci = credentials_internal;

namespace {

Result<Credentials> run_process(const std::string& command) {
  std::FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return Status::io_error("credential_process: cannot start /bin/sh");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
    out.append(buf, n);
    if (out.size() > (1u << 20)) break;  // no credentials document is that big
  }
  const int status = pclose(p);
  // Neither the command (it may carry secrets in its arguments) nor its
  // output goes into messages.
  if (status == -1) return Status::io_error("credential_process: cannot wait for the command");
  if (WIFSIGNALED(status)) {
    return Status::unavailable("credential_process was killed by signal " +
                               std::to_string(WTERMSIG(status)));
  }
  if (WEXITSTATUS(status) != 0) {
    return Status::permission_denied("credential_process exited with status " +
                                     std::to_string(WEXITSTATUS(status)) +
                                     " (its stderr says why)");
  }
  if (out.find("\"Version\"") == std::string::npos) {
    return Status::corruption("credential_process output has no \"Version\": 1");
  }
  auto c = ci::parse_credentials_json(out, "credential_process", "SessionToken");
  if (c.ok()) c->source = "process";
  return c;
}

// Builds the provider a profile describes; `visited` catches source_profile cycles.
class ProfileResolver {
 public:
  ProfileResolver(const CredentialsOptions& o, const SharedConfig& config,
                  std::shared_ptr<ci::LazyHttpClient> http)
      : o_(o), config_(config), http_(std::move(http)) {}

  Result<std::shared_ptr<CredentialsProvider>> build(const std::string& name,
                                                     std::set<std::string>& visited) {
    const ConfigSection* p = config_.profile(name);
    if (p == nullptr) {
      return Status::not_found("no profile \"" + name + "\" in " + config_.config_path + " or " +
                               config_.credentials_path);
    }
    visited.insert(name);
    const std::string where = "profile \"" + name + "\"";
    if (auto role_arn = p->get("role_arn")) {
      if (p->get("mfa_serial")) {
        return Status::invalid_argument(where +
                                        " needs an MFA code (mfa_serial), which sluice cannot "
                                        "prompt for; export temporary credentials instead");
      }
      const std::string session = p->get("role_session_name").value_or(ci::role_session_name(o_));
      if (auto token_file = p->get("web_identity_token_file")) {
        auto o = o_;
        auto http = http_;
        const std::string role = *role_arn;
        const std::string file = *token_file;
        return make_refreshing_credentials(
            where + " web identity",
            [o, http, role, file, session] {
              return ci::fetch_web_identity(o, http->get(), file, role, session);
            },
            o_);
      }
      std::shared_ptr<CredentialsProvider> source;
      if (auto src = p->get("source_profile")) {
        if (*src == name) {
          // A profile may be its own source: its static keys assume its role.
          SLUICE_ASSIGN_OR_RETURN(source, static_keys(*p, where));
          if (!source)
            return Status::invalid_argument(where + " is its own source_profile but has no keys");
        } else if (visited.contains(*src)) {
          return Status::invalid_argument(where + ": source_profile \"" + *src +
                                          "\" leads back to " + "a profile already in the chain");
        } else {
          SLUICE_ASSIGN_OR_RETURN(source, build(*src, visited));
        }
      } else if (auto cs = p->get("credential_source")) {
        if (*cs == "Environment") {
          source = make_environment_credentials();
        } else if (*cs == "Ec2InstanceMetadata") {
          source = make_instance_metadata_credentials(o_);
        } else if (*cs == "EcsContainer") {
          source = make_container_credentials(o_);
        } else {
          return Status::invalid_argument(where +
                                          ": credential_source must be Environment, "
                                          "Ec2InstanceMetadata or EcsContainer");
        }
      } else {
        return Status::invalid_argument(where +
                                        " has role_arn but neither source_profile nor "
                                        "credential_source nor web_identity_token_file");
      }
      ci::AssumeRoleParams params;
      params.role_arn = *role_arn;
      params.session_name = session;
      params.external_id = p->get("external_id").value_or("");
      if (auto d = p->get("duration_seconds")) {
        try {
          params.duration_seconds = std::stoi(*d);
        } catch (const std::exception&) {
          return Status::invalid_argument(where + ": duration_seconds is not a number");
        }
      }
      auto o = o_;
      auto http = http_;
      return make_refreshing_credentials(
          where + " assume role",
          [o, http, source, params]() -> Result<Credentials> {
            auto src = source->credentials();
            if (!src.ok()) return src.status().with_context("source credentials for AssumeRole");
            return ci::assume_role(o, http->get(), *src, params);
          },
          o_);
    }
    if (p->get("sso_session") || p->get("sso_start_url") || p->get("sso_account_id")) {
      return Status::invalid_argument(
          where +
          " uses AWS IAM Identity Center (SSO), which sluice does not support; run `aws "
          "configure export-credentials --profile " +
          name + " --format env` and use the environment variables");
    }
    SLUICE_ASSIGN_OR_RETURN(auto keys, static_keys(*p, where));
    if (keys) return keys;
    if (auto cmd = p->get("credential_process")) {
      if (!o_.allow_credential_process) {
        return Status::invalid_argument(where + " has credential_process, which is disabled here");
      }
      return make_process_credentials(*cmd, o_);
    }
    return Status::not_found(where +
                             " has no credentials (no aws_access_key_id, role_arn or "
                             "credential_process)");
  }

 private:
  // The profile's own keys, null when it has none.
  Result<std::shared_ptr<CredentialsProvider>> static_keys(const ConfigSection& p,
                                                           const std::string& where) {
    auto key = p.get("aws_access_key_id");
    auto secret = p.get("aws_secret_access_key");
    if (!key && !secret) return std::shared_ptr<CredentialsProvider>();
    if (!key)
      return Status::invalid_argument(where +
                                      " has aws_secret_access_key but no aws_access_key_id");
    if (!secret) {
      return Status::invalid_argument(where +
                                      " has aws_access_key_id but no aws_secret_access_key");
    }
    Credentials c;
    c.access_key_id = *key;
    c.secret_access_key = *secret;
    c.session_token = p.get("aws_session_token").value_or("");
    c.source = where;
    return make_refreshing_credentials(
        where, [c] { return Result<Credentials>(c); }, o_);
  }

  const CredentialsOptions& o_;
  const SharedConfig& config_;
  std::shared_ptr<ci::LazyHttpClient> http_;
};

class ProfileProvider final : public CredentialsProvider {
 public:
  explicit ProfileProvider(CredentialsOptions o)
      : o_(std::move(o)), http_(std::make_shared<ci::LazyHttpClient>(o_.http, o_.sts_timeout)) {}

  Result<Credentials> credentials() override {
    std::shared_ptr<CredentialsProvider> inner;
    {
      std::lock_guard lock(mu_);
      if (!inner_) {
        // Not cached until it works: a fixed file is picked up on the next call.
        auto config = load_shared_config(o_.files);
        if (!config.ok()) return config.status();
        for (const auto& w : config->warnings) {
          ci::logger_of(o_).warn("skipped a line of the AWS shared config", {{"where", w}});
        }
        const std::string name = o_.profile.empty() ? default_profile_name() : o_.profile;
        std::set<std::string> visited;
        ProfileResolver resolver(o_, *config, http_);
        auto built = resolver.build(name, visited);
        if (!built.ok()) return built.status();
        inner_ = *built;
      }
      inner = inner_;
    }
    return inner->credentials();
  }

 private:
  const CredentialsOptions o_;
  std::shared_ptr<ci::LazyHttpClient> http_;
  std::mutex mu_;
  std::shared_ptr<CredentialsProvider> inner_;
};

}  // namespace

std::shared_ptr<CredentialsProvider> make_profile_credentials(CredentialsOptions options) {
  return std::make_shared<ProfileProvider>(std::move(options));
}

std::shared_ptr<CredentialsProvider> make_process_credentials(std::string command,
                                                              CredentialsOptions options) {
  return make_refreshing_credentials(
      "credential_process", [command = std::move(command)] { return run_process(command); },
      std::move(options));
}

}  // namespace sluice::aws
