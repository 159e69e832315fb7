find_package(Protobuf REQUIRED)
# The KPL schema compiled with protoc: only the tests use libprotobuf, to
# cross-check the hand-written codec.
protobuf_generate_cpp(SLUICE_KPL_PROTO_SRCS SLUICE_KPL_PROTO_HDRS kinesis/kpl_aggregation.proto)

sluice_test(sluice_kinesis_unit_tests LABEL unit
  SOURCES
    kinesis/aggregation_test.cc
    ${SLUICE_KPL_PROTO_SRCS}
  LIBS sluice::kinesis protobuf::libprotobuf)
target_include_directories(sluice_kinesis_unit_tests PRIVATE ${CMAKE_CURRENT_BINARY_DIR})
