sluice_test(sluice_aws_unit_tests LABEL unit
  SOURCES
    aws/url_test.cc
  LIBS sluice::aws)
