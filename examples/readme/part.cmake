# The C++ code blocks of README.md, one program each. tests/readme checks
# that every ```cpp block of the README is byte-identical to its file here;
# building them (with -Werror) proves that the README's code compiles.
set(SLUICE_README_EXAMPLES
    record_handler:kinesis
    redis_leases:kinesis+redis
    kcl_processor:kinesis
    producer:kinesis
    redis_stream_client:redis
    kafka_consumer:kafka
    kafka_producer:kafka)
foreach(entry IN LISTS SLUICE_README_EXAMPLES)
  string(REPLACE ":" ";" parts ${entry})
  list(GET parts 0 name)
  list(GET parts 1 components)
  string(REPLACE "+" ";" components ${components})
  set(libs "")
  set(available TRUE)
  foreach(component IN LISTS components)
    if(NOT component IN_LIST SLUICE_COMPONENTS)
      set(available FALSE)
    endif()
    list(APPEND libs sluice::${component})
  endforeach()
  if(available)
    add_executable(readme_${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cc)
    target_link_libraries(readme_${name} PRIVATE ${libs})
    sluice_warnings(readme_${name})
  endif()
endforeach()
