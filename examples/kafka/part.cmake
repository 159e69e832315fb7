# Seed 004's three programs: a managed consumer with signal handling, a sync
# producer and an async producer with a delivery callback.
foreach(example kafka_managed_consumer kafka_sync_producer kafka_async_producer)
  add_executable(${example} kafka/${example}.cc)
  target_link_libraries(${example} PRIVATE sluice::kafka)
  sluice_warnings(${example})
endforeach()
