sluice_test(sluice_aws_integration_tests LABEL integration
  SOURCES
    aws/http_client_test.cc
  LIBS sluice::aws)
