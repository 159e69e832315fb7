#include "sluice/aws/config.h"

#include <cctype>
#include <optional>

#include "aws/auth_util.h"
#include "sluice/aws/http_client.h"

namespace sluice::aws {

namespace ai = auth_internal;

namespace {

std::string profile_or_default(std::string_view profile) {
  return profile.empty() ? default_profile_name() : std::string(profile);
}

bool valid_region(std::string_view r) {
  if (r.empty() || r.size() > 63) return false;
  for (char c : r) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
  }
  return r.front() != '-' && r.back() != '-';
}

Result<std::string> check_region(std::string region, std::string_view source) {
  region = std::string(ai::trim(region));
  if (!valid_region(region)) {
    return Status::invalid_argument("bad AWS region \"" + region + "\" from " +
                                    std::string(source) + " (expected e.g. us-east-1)");
  }
  return region;
}

Result<std::string> check_endpoint(std::string url, std::string_view source) {
  url = std::string(ai::trim(url));
  auto parts = parse_url(url);
  if (!parts.ok()) {
    return Status::invalid_argument("bad endpoint URL from " + std::string(source) + ": " +
                                    std::string(parts.status().message()));
  }
  const auto authority = url.find("://") + 3;
  while (url.size() > authority && url.back() == '/') url.pop_back();
  return url;
}

std::string service_key(std::string_view service_id) {
  std::string k = ai::to_lower(ai::trim(service_id));
  for (char& c : k) {
    if (c == ' ') c = '_';
  }
  return k;
}

}  // namespace

std::string endpoint_env_var(std::string_view service_id) {
  return "AWS_ENDPOINT_URL_" + ai::to_upper(service_key(service_id));
}

std::string default_endpoint(std::string_view signing_name, std::string_view region) {
  const std::string suffix = region.starts_with("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com";
  return "https://" + std::string(signing_name) + "." + std::string(region) + suffix;
}

Result<std::string> resolve_region(std::string_view explicit_region, std::string_view profile,
                                   const SharedConfig& config) {
  if (!ai::trim(explicit_region).empty()) {
    return check_region(std::string(explicit_region), "the explicit region option");
  }
  if (auto r = ai::env("AWS_REGION")) return check_region(*r, "AWS_REGION");
  if (auto r = ai::env("AWS_DEFAULT_REGION")) return check_region(*r, "AWS_DEFAULT_REGION");
  const std::string name = profile_or_default(profile);
  if (const ConfigSection* p = config.profile(name)) {
    if (auto r = p->get("region")) {
      return check_region(*r, "profile \"" + name + "\" in " + config.config_path);
    }
  }
  return Status::invalid_argument(
      "no AWS region configured: pass one explicitly (--region), set AWS_REGION, or set `region` "
      "in profile \"" +
      name + "\" of " + (config.config_path.empty() ? "~/.aws/config" : config.config_path));
}

Result<std::string> resolve_region(std::string_view explicit_region, std::string_view profile) {
  if (!ai::trim(explicit_region).empty()) {
    return check_region(std::string(explicit_region), "the explicit region option");
  }
  SLUICE_ASSIGN_OR_RETURN(SharedConfig config, load_shared_config());
  return resolve_region(explicit_region, profile, config);
}

Result<std::string> resolve_endpoint(std::string_view service_id, std::string_view signing_name,
                                     std::string_view region, std::string_view explicit_endpoint,
                                     std::string_view profile, const SharedConfig& config) {
  if (!ai::trim(explicit_endpoint).empty()) {
    return check_endpoint(std::string(explicit_endpoint), "the explicit endpoint option");
  }
  const std::string name = profile_or_default(profile);
  const ConfigSection* p = config.profile(name);
  bool ignore = ai::env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  if (!ai::env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") && p != nullptr) {
    if (auto v = p->get("ignore_configured_endpoint_urls")) ignore = ai::iequals(*v, "true");
  }
  if (!ignore) {
    const std::string var = endpoint_env_var(service_id);
    if (auto v = ai::env(var.c_str())) return check_endpoint(*v, var);
    if (auto v = ai::env("AWS_ENDPOINT_URL")) return check_endpoint(*v, "AWS_ENDPOINT_URL");
    if (p != nullptr) {
      if (auto services = p->get("services")) {
        auto it = config.services.find(*services);
        if (it != config.services.end()) {
          if (auto v = it->second.sub(service_key(service_id), "endpoint_url")) {
            return check_endpoint(*v, "[services " + *services + "] in " + config.config_path);
          }
        }
      }
      if (auto v = p->get("endpoint_url")) {
        return check_endpoint(*v, "profile \"" + name + "\" in " + config.config_path);
      }
    }
  }
  if (ai::trim(region).empty()) {
    return Status::invalid_argument("no region to build the " + std::string(service_id) +
                                    " endpoint from, and no endpoint URL configured");
  }
  return default_endpoint(signing_name, ai::trim(region));
}

Result<std::string> resolve_endpoint(std::string_view service_id, std::string_view signing_name,
                                     std::string_view region, std::string_view explicit_endpoint,
                                     std::string_view profile) {
  if (!ai::trim(explicit_endpoint).empty()) {
    return check_endpoint(std::string(explicit_endpoint), "the explicit endpoint option");
  }
  SLUICE_ASSIGN_OR_RETURN(SharedConfig config, load_shared_config());
  return resolve_endpoint(service_id, signing_name, region, explicit_endpoint, profile, config);
}

}  // namespace sluice::aws
