sluice_test(sluice_aws_integration_tests LABEL integration
  SOURCES
    aws/http_client_test.cc
    aws/kinesis_client_test.cc
    aws/dynamodb_client_test.cc
    aws/s3_client_test.cc
    aws/retry_test.cc
  LIBS sluice::aws)
