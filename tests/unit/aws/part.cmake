sluice_test(sluice_aws_unit_tests LABEL unit
  SOURCES
    aws/url_test.cc
  LIBS sluice::aws)

# SigV4 signer, raw requests and `sluice aws sign` against the public AWS test
# suite in ../shared/testdata/sigv4 (SLUICE_SOURCE_DIR at run time; the
# defaults below serve test discovery, which runs without it).
sluice_test(sluice_aws_sigv4_tests LABEL unit
  SOURCES
    aws/sigv4_suite_test.cc
    aws/sigv4_test.cc
  LIBS sluice::aws simdjson::simdjson)
target_compile_definitions(sluice_aws_sigv4_tests PRIVATE
  SLUICE_DEFAULT_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  SLUICE_DEFAULT_BINARY_DIR="${PROJECT_BINARY_DIR}")

# Credential providers, shared config, region and endpoint resolution; the
# network providers talk to support/local_http_server on 127.0.0.1.
sluice_test(sluice_aws_credentials_tests LABEL unit
  SOURCES
    aws/credentials_test.cc
    aws/credentials_secrets_test.cc
    aws/config_test.cc
  LIBS sluice::aws)
