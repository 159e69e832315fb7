# Seed 003's Kinesis writer (DataFileV1 protobuf records; libprotobuf is
# used by this example only) and seed 001's simple producer.
find_package(Protobuf REQUIRED)
protobuf_generate_cpp(SLUICE_DATAFILE_PROTO_SRCS SLUICE_DATAFILE_PROTO_HDRS
                      kinesis/kinesis_writer/data_file.proto)
add_executable(kinesis_writer kinesis/kinesis_writer/main.cc ${SLUICE_DATAFILE_PROTO_SRCS})
target_link_libraries(kinesis_writer PRIVATE sluice::kinesis protobuf::libprotobuf)
target_include_directories(kinesis_writer PRIVATE ${CMAKE_CURRENT_BINARY_DIR})
sluice_warnings(kinesis_writer)

add_executable(kinesis_simple_producer kinesis/simple_producer/main.cc)
target_link_libraries(kinesis_simple_producer PRIVATE sluice::kinesis)
sluice_warnings(kinesis_simple_producer)

# Seed 000's example: a consumer configured from the environment.
add_executable(kinesis_basic kinesis/basic/main.cc)
target_link_libraries(kinesis_basic PRIVATE sluice::kinesis sluice::redis)
sluice_warnings(kinesis_basic)

# Seed 001's KCL examples (the simple producer is kinesis_simple_producer above).
foreach(example basic_consumer advanced_consumer multi_worker config_examples)
  add_executable(kinesis_kcl_${example} kinesis/kcl/${example}.cc)
  target_link_libraries(kinesis_kcl_${example} PRIVATE sluice::kinesis)
  sluice_warnings(kinesis_kcl_${example})
endforeach()
