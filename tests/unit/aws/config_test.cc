// Shared config files, region and endpoint resolution.
#include "sluice/aws/config.h"

#include <gtest/gtest.h>

#include "sluice/aws/shared_config.h"
#include "unit/aws/credentials_test_util.h"

namespace sluice::aws {
namespace {

using testing_support::CleanAwsEnvironment;

TEST(SharedConfig, ParsesProfilesCommentsAndSubProperties) {
  const std::string config =
      "# leading comment\n"
      "; another\n"
      "[default]\n"
      "region = us-west-2   # inline comment\n"
      "output=json\n"
      "[profile dev]  ; note\n"
      "region = eu-west-1\n"
      "services = local\n"
      "s3 =\n"
      "  max_concurrent_requests = 20\n"
      "  addressing_style = path\n"
      "[ profile   spaced ]\n"
      "region = ap-south-1\n"
      "[notaprofile]\n"
      "region = ignored\n"
      "[services local]\n"
      "kinesis =\n"
      "  endpoint_url = http://localhost:4567\n"
      "dynamodb =\n"
      "  endpoint_url = http://localhost:4568\n"
      "[sso-session corp]\n"
      "sso_region = us-east-1\n"
      "[profile broken\n"
      "region = lost\n"
      "[profile dev2]\n"
      "this line has no equals sign\n"
      "region = us-east-2\n";
  const std::string credentials =
      "[default]\r\n"
      "aws_access_key_id = AKID\r\n"
      "aws_secret_access_key = se/cr+et=\r\n"
      "[dev]\n"
      "region = from-credentials-file\n";
  SharedConfig c = parse_shared_config(config, credentials, "cfg", "creds");
  const ConfigSection* def = c.profile("default");
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->get("region"), "us-west-2");
  EXPECT_EQ(def->get("output"), "json");
  EXPECT_EQ(def->get("aws_access_key_id"), "AKID");
  EXPECT_EQ(def->get("aws_secret_access_key"), "se/cr+et=");  // '=' inside values survives

  const ConfigSection* dev = c.profile("dev");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->get("region"), "from-credentials-file");  // the credentials file wins
  EXPECT_EQ(dev->sub("s3", "max_concurrent_requests"), "20");
  EXPECT_EQ(dev->sub("s3", "addressing_style"), "path");
  EXPECT_EQ(dev->get("s3"), std::nullopt);

  ASSERT_NE(c.profile("spaced"), nullptr);
  EXPECT_EQ(c.profile("spaced")->get("region"), "ap-south-1");
  EXPECT_EQ(c.profile("notaprofile"), nullptr);
  EXPECT_EQ(c.profile("broken"), nullptr);
  ASSERT_NE(c.profile("dev2"), nullptr);
  EXPECT_EQ(c.profile("dev2")->get("region"), "us-east-2");

  ASSERT_EQ(c.services.count("local"), 1u);
  EXPECT_EQ(c.services.at("local").sub("kinesis", "endpoint_url"), "http://localhost:4567");
  EXPECT_EQ(c.sso_sessions.at("corp").get("sso_region"), "us-east-1");

  // Skipped lines are reported by number, never by content.
  ASSERT_GE(c.warnings.size(), 3u);
  for (const auto& w : c.warnings) {
    EXPECT_TRUE(w.starts_with("cfg line ")) << w;
    EXPECT_EQ(w.find("equals sign"), std::string::npos) << w;
  }
}

TEST(SharedConfig, FileLocationsFollowTheEnvironment) {
  CleanAwsEnvironment env;
  EXPECT_EQ(shared_config_file_path(), env.config_path());
  EXPECT_EQ(shared_credentials_file_path(), env.credentials_path());
  EXPECT_EQ(shared_config_file_path({.config_file = "/x/c"}), "/x/c");
  env.unset("AWS_CONFIG_FILE");
  env.set("HOME", "/home/someone");
  EXPECT_EQ(shared_config_file_path(), "/home/someone/.aws/config");
  EXPECT_EQ(default_profile_name(), "default");
  env.set("AWS_PROFILE", "ci");
  EXPECT_EQ(default_profile_name(), "ci");

  // Missing files are empty; a directory is an error naming it.
  auto loaded = load_shared_config(
      {.config_file = "/nonexistent/config", .credentials_file = "/nonexistent/credentials"});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->profiles.empty());
  auto bad = load_shared_config({.config_file = env.dir().path().string()});
  EXPECT_EQ(bad.status().code(), StatusCode::kIOError);
}

TEST(Region, ExplicitThenEnvironmentThenProfile) {
  CleanAwsEnvironment env;
  auto r = resolve_region();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("AWS_REGION"), std::string_view::npos) << r.status();

  env.write_config("[default]\nregion = eu-central-1\n[profile other]\nregion = sa-east-1\n");
  EXPECT_EQ(resolve_region().value(), "eu-central-1");
  EXPECT_EQ(resolve_region("", "other").value(), "sa-east-1");
  env.set("AWS_PROFILE", "other");
  EXPECT_EQ(resolve_region().value(), "sa-east-1");
  env.set("AWS_DEFAULT_REGION", "us-east-2");
  EXPECT_EQ(resolve_region().value(), "us-east-2");
  env.set("AWS_REGION", "us-west-1");
  EXPECT_EQ(resolve_region().value(), "us-west-1");
  EXPECT_EQ(resolve_region("ap-northeast-1").value(), "ap-northeast-1");

  auto bad = resolve_region("us east 1");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(Endpoint, DefaultsPerServiceAndPartition) {
  CleanAwsEnvironment env;
  EXPECT_EQ(resolve_endpoint("Kinesis", "kinesis", "us-east-1").value(),
            "https://kinesis.us-east-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint("DynamoDB", "dynamodb", "eu-west-1").value(),
            "https://dynamodb.eu-west-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint("S3", "s3", "us-west-2").value(),
            "https://s3.us-west-2.amazonaws.com");
  EXPECT_EQ(resolve_endpoint("STS", "sts", "cn-north-1").value(),
            "https://sts.cn-north-1.amazonaws.com.cn");
  EXPECT_EQ(endpoint_env_var("DynamoDB"), "AWS_ENDPOINT_URL_DYNAMODB");
  EXPECT_EQ(endpoint_env_var("Elastic Beanstalk"), "AWS_ENDPOINT_URL_ELASTIC_BEANSTALK");
  EXPECT_EQ(resolve_endpoint("Kinesis", "kinesis", "").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Endpoint, ExplicitThenServiceVariableThenGlobalThenProfile) {
  CleanAwsEnvironment env;
  env.write_config(
      "[default]\nendpoint_url = http://profile-global:1\nservices = local\n"
      "[services local]\ndynamodb =\n  endpoint_url = http://profile-dynamo:2\n");
  EXPECT_EQ(resolve_endpoint("DynamoDB", "dynamodb", "us-east-1").value(),
            "http://profile-dynamo:2");
  EXPECT_EQ(resolve_endpoint("Kinesis", "kinesis", "us-east-1").value(), "http://profile-global:1");
  env.set("AWS_ENDPOINT_URL", "http://env-global:3/");
  EXPECT_EQ(resolve_endpoint("DynamoDB", "dynamodb", "us-east-1").value(), "http://env-global:3");
  env.set("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:4567");
  EXPECT_EQ(resolve_endpoint("Kinesis", "kinesis", "us-east-1").value(), "http://127.0.0.1:4567");
  EXPECT_EQ(resolve_endpoint("DynamoDB", "dynamodb", "us-east-1").value(), "http://env-global:3");
  EXPECT_EQ(resolve_endpoint("Kinesis", "kinesis", "us-east-1", "https://explicit.example").value(),
            "https://explicit.example");

  env.set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
  EXPECT_EQ(resolve_endpoint("Kinesis", "kinesis", "us-east-1").value(),
            "https://kinesis.us-east-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint("Kinesis", "kinesis", "us-east-1", "http://still-explicit:1").value(),
            "http://still-explicit:1");

  env.unset("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  env.set("AWS_ENDPOINT_URL_S3", "not a url");
  auto bad = resolve_endpoint("S3", "s3", "us-east-1");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("AWS_ENDPOINT_URL_S3"), std::string_view::npos)
      << bad.status();
}

TEST(Endpoint, ProfileCanIgnoreConfiguredEndpoints) {
  CleanAwsEnvironment env;
  env.write_config(
      "[default]\nignore_configured_endpoint_urls = true\nendpoint_url = http://x:1\n");
  env.set("AWS_ENDPOINT_URL", "http://y:2");
  EXPECT_EQ(resolve_endpoint("Kinesis", "kinesis", "us-east-1").value(),
            "https://kinesis.us-east-1.amazonaws.com");
}

}  // namespace
}  // namespace sluice::aws
