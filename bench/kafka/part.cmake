# Throughput of the managed consumer and producers next to raw librdkafka
# loops, against an in-process librdkafka mock cluster.
add_executable(bench_kafka kafka/kafka_bench.cc)
target_link_libraries(bench_kafka PRIVATE sluice::kafka PkgConfig::RDKAFKA benchmark::benchmark)
sluice_warnings(bench_kafka)
