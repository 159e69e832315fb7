# The Kinesis producer's CPU path (records into PutRecords bodies, aggregated
# and plain; compression). End to end against kinesalite:
# bench/kinesis/producer_end_to_end.sh.
add_executable(bench_kinesis_producer_encode kinesis/producer_encode_bench.cc)
target_link_libraries(bench_kinesis_producer_encode PRIVATE sluice::kinesis benchmark::benchmark)
target_include_directories(bench_kinesis_producer_encode PRIVATE ${PROJECT_SOURCE_DIR}/src)
sluice_warnings(bench_kinesis_producer_encode)
