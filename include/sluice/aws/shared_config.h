// The AWS shared configuration files, ~/.aws/config and ~/.aws/credentials,
// read as the AWS SDKs and CLI read them.
//
//   ~/.aws/config                      ~/.aws/credentials
//   [default]                          [default]
//   region = eu-west-1                 aws_access_key_id = AKIA...
//   [profile ci]                       aws_secret_access_key = ...
//   role_arn = arn:aws:iam::1:role/ci  [ci-source]
//   source_profile = ci-source         aws_access_key_id = ...
//   [services local]
//   kinesis =
//     endpoint_url = http://localhost:4567
//
// Locations: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/config and ~/.aws/credentials. A missing file is an empty one.
// Profiles are `[profile name]` (or `[default]`) in the config file and
// `[name]` in the credentials file; a profile's properties are merged from
// both, the credentials file winning. Comments start a line with '#' or ';',
// or follow whitespace at the end of a line. Indented lines under a property
// with no value are its sub-properties (`s3 =` / `  max_concurrency = 4`);
// other indented lines continue the previous value. Lines that are none of
// these are skipped and reported in `warnings` (by line number only: they
// may hold secrets).
#ifndef SLUICE_AWS_SHARED_CONFIG_H_
#define SLUICE_AWS_SHARED_CONFIG_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/result.h"

namespace sluice::aws {

// One section: a profile, an sso-session or a services section.
struct ConfigSection {
  std::string name{};
  // Keys lower-cased as written ("aws_access_key_id"), values trimmed.
  std::map<std::string, std::string, std::less<>> properties{};
  // Sub-properties of properties whose value is empty: {"kinesis": {"endpoint_url": ...}}.
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>>
      sub_properties{};

  // The property's value, or nullopt when absent (an empty value counts as absent).
  std::optional<std::string> get(std::string_view key) const;
  // A sub-property, e.g. sub("kinesis", "endpoint_url").
  std::optional<std::string> sub(std::string_view key, std::string_view sub_key) const;
};

struct SharedConfig {
  std::map<std::string, ConfigSection, std::less<>> profiles{};
  std::map<std::string, ConfigSection, std::less<>> sso_sessions{};
  std::map<std::string, ConfigSection, std::less<>> services{};
  std::string config_path{};  // where the files were looked for (for messages)
  std::string credentials_path{};
  std::vector<std::string> warnings{};  // "~/.aws/config line 7: ..." (never the line's text)

  const ConfigSection* profile(std::string_view name) const;
};

// Where to read from; empty = the environment variables, then ~/.aws/.
struct SharedConfigFiles {
  std::string config_file{};
  std::string credentials_file{};
};

// The profile to use when none is given: AWS_PROFILE, else "default".
std::string default_profile_name();

// The files' paths after the environment and ~ are applied.
std::string shared_config_file_path(const SharedConfigFiles& files = {});
std::string shared_credentials_file_path(const SharedConfigFiles& files = {});

// Reads and merges both files. Missing files are fine; a file that exists but
// cannot be read is an IOError naming it.
Result<SharedConfig> load_shared_config(const SharedConfigFiles& files = {});

// The same from text, for tests and tools.
SharedConfig parse_shared_config(std::string_view config_text, std::string_view credentials_text,
                                 std::string config_path = "config",
                                 std::string credentials_path = "credentials");

}  // namespace sluice::aws

#endif  // SLUICE_AWS_SHARED_CONFIG_H_
