sluice_test(sluice_kafka_unit_tests LABEL unit
  SOURCES
    kafka/offset_tracker_test.cc
    kafka/config_test.cc
    kafka/conf_mapping_test.cc
    kafka/message_test.cc
    kafka/json_lines_test.cc
  LIBS sluice::kafka PkgConfig::RDKAFKA)

sluice_test(sluice_kafka_concurrency_tests LABEL concurrency
  SOURCES
    kafka/job_supervisor_test.cc
    kafka/producer_concurrency_test.cc
    kafka/consumer_concurrency_test.cc
    kafka/tsan_c11_threads.cc
  LIBS sluice::kafka PkgConfig::RDKAFKA)
