add_executable(bench_aws_codec aws/codec_bench.cc)
target_link_libraries(bench_aws_codec PRIVATE sluice::aws benchmark::benchmark)
sluice_warnings(bench_aws_codec)
