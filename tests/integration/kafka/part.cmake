sluice_test(sluice_kafka_integration_tests LABEL integration
  SOURCES
    kafka/mock_cluster_test.cc
    kafka/consumer_test.cc
    kafka/producer_test.cc
    kafka/interop_test.cc
    kafka/cli_test.cc
  LIBS sluice::kafka PkgConfig::RDKAFKA)
