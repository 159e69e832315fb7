find_package(Protobuf REQUIRED)
# The KPL schema compiled with protoc: only the tests use libprotobuf, to
# cross-check the hand-written codec.
protobuf_generate_cpp(SLUICE_KPL_PROTO_SRCS SLUICE_KPL_PROTO_HDRS kinesis/kpl_aggregation.proto)

sluice_test(sluice_kinesis_unit_tests LABEL unit
  SOURCES
    kinesis/aggregation_test.cc
    kinesis/engine_parts_test.cc
    ${SLUICE_KPL_PROTO_SRCS}
  LIBS sluice::kinesis protobuf::libprotobuf)
target_include_directories(sluice_kinesis_unit_tests PRIVATE ${CMAKE_CURRENT_BINARY_DIR})

# The Kinesis producer: codecs, batching logic, and the Producer against a
# scripted fake Kinesis on 127.0.0.1 (no back end needed).
sluice_test(sluice_kinesis_producer_unit_tests LABEL unit
  SOURCES
    kinesis/producer_codec_test.cc
    kinesis/producer_batcher_test.cc
    kinesis/producer_test.cc
  LIBS sluice::kinesis simdjson::simdjson ZLIB::ZLIB)
sluice_test(sluice_kinesis_producer_concurrency_tests LABEL concurrency
  SOURCES
    kinesis/producer_concurrency_test.cc
  LIBS sluice::kinesis simdjson::simdjson)

# The KCL-compatible worker's pure parts: lease items, configuration, the
# lease planner, and the coordinator over an in-memory table with a manual clock.
sluice_test(sluice_kinesis_kcl_unit_tests LABEL unit
  SOURCES
    kinesis/kcl_lease_test.cc
    kinesis/kcl_planner_test.cc
    kinesis/kcl_coordinator_test.cc
    kinesis/kcl_metrics_publisher_test.cc
  LIBS sluice::kinesis)
# The coordinator's real threads (renewer, balancing, checkpoints, reads)
# racing over one in-memory table with the real clock; also run under TSan.
sluice_test(sluice_kinesis_kcl_concurrency_tests LABEL concurrency
  SOURCES
    kinesis/kcl_concurrency_test.cc
  LIBS sluice::kinesis)
