sluice_test(sluice_kafka_integration_tests LABEL integration
  SOURCES
    kafka/mock_cluster_test.cc
    kafka/consumer_test.cc
    kafka/producer_test.cc
    kafka/interop_test.cc
    kafka/cli_test.cc
  LIBS sluice::kafka PkgConfig::RDKAFKA)
if(TARGET sluice)
  add_dependencies(sluice_kafka_integration_tests sluice)  # the CLI tests run it
endif()
# The example programs' test runs them: compiled only where they are built.
if(SLUICE_BUILD_EXAMPLES)
  target_sources(sluice_kafka_integration_tests PRIVATE kafka/examples_test.cc)
  add_dependencies(sluice_kafka_integration_tests
    kafka_managed_consumer kafka_sync_producer kafka_async_producer)
endif()
