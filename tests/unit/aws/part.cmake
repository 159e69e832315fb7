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
