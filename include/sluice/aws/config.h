// Which AWS region and which endpoint a client talks to, resolved as the AWS
// SDKs resolve them.
//
// Region, first found wins:
//   1. the explicit value (a --region flag, an options field);
//   2. AWS_REGION, then AWS_DEFAULT_REGION;
//   3. `region` in the profile (AWS_PROFILE, else "default") of ~/.aws/config.
// None: InvalidArgument saying where to set one.
//
// Endpoint of a service, first found wins:
//   1. the explicit value (--endpoint-url, an options field);
//   2. AWS_ENDPOINT_URL_<SERVICE>: the service id upper-cased, spaces as
//      underscores (AWS_ENDPOINT_URL_KINESIS, _DYNAMODB, _S3, _STS);
//   3. AWS_ENDPOINT_URL;
//   4. in the profile: `endpoint_url` of the service's sub-section of the
//      `[services <name>]` section named by the profile's `services` key
//      (the service id lower-cased, spaces as underscores: `kinesis =`);
//   5. the profile's own `endpoint_url`;
//   6. https://<signing name>.<region>.amazonaws.com (amazonaws.com.cn for
//      cn-* regions); S3 is https://s3.<region>.amazonaws.com.
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (or the profile's
// `ignore_configured_endpoint_urls = true`) skips 2-5.
// Configured URLs must be http:// or https:// URLs (InvalidArgument naming
// where the bad one came from); trailing slashes are dropped.
#ifndef SLUICE_AWS_CONFIG_H_
#define SLUICE_AWS_CONFIG_H_

#include <string>
#include <string_view>

#include "sluice/aws/shared_config.h"
#include "sluice/core/result.h"

namespace sluice::aws {

// `profile` empty = AWS_PROFILE, else "default". Reads the shared files.
Result<std::string> resolve_region(std::string_view explicit_region = "",
                                   std::string_view profile = "");
// The same with files already loaded.
Result<std::string> resolve_region(std::string_view explicit_region, std::string_view profile,
                                   const SharedConfig& config);

// `service_id`: the SDK service id ("Kinesis", "DynamoDB", "S3", "STS");
// `signing_name`: the SigV4 service name and default host prefix ("kinesis",
// "dynamodb", "s3", "sts"). `region` is only needed for the default endpoint.
Result<std::string> resolve_endpoint(std::string_view service_id, std::string_view signing_name,
                                     std::string_view region,
                                     std::string_view explicit_endpoint = "",
                                     std::string_view profile = "");
Result<std::string> resolve_endpoint(std::string_view service_id, std::string_view signing_name,
                                     std::string_view region, std::string_view explicit_endpoint,
                                     std::string_view profile, const SharedConfig& config);

// https://<signing_name>.<region>.amazonaws.com (or .amazonaws.com.cn).
std::string default_endpoint(std::string_view signing_name, std::string_view region);

// "AWS_ENDPOINT_URL_DYNAMODB" for "DynamoDB".
std::string endpoint_env_var(std::string_view service_id);

}  // namespace sluice::aws

#endif  // SLUICE_AWS_CONFIG_H_
