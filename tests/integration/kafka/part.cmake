sluice_test(sluice_kafka_integration_tests LABEL integration
  SOURCES
    kafka/mock_cluster_test.cc
  LIBS sluice::kafka PkgConfig::RDKAFKA)
