# cmake -P script: install, then build and run the consumer both ways.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f bin/sluice include/sluice/core/status.h include/sluice/version.h
          lib/cmake/sluice/sluiceConfig.cmake lib/pkgconfig/sluice-core.pc lib/libsluice_core.a)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
run(${prefix}/bin/sluice --version)
message(STATUS "installed binary says: ${last_output}")

# 1. CMake package with components.
string(REPLACE ";" "\\;" components "${COMPONENTS}")
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} "-DSLUICE_COMPONENTS=${components}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(NOT last_output MATCHES "sluice consumer ok")
  message(FATAL_ERROR "unexpected output: ${last_output}")
endif()

# 2. pkg-config, the way a Makefile user links it.
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
run(pkg-config --cflags --libs sluice-core)
string(STRIP "${last_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(c++ ${SOURCE_DIR}/consumer.cc -o ${WORK_DIR}/consumer-pc ${flags})
run(${WORK_DIR}/consumer-pc)
if(NOT last_output MATCHES "sluice consumer ok")
  message(FATAL_ERROR "unexpected output: ${last_output}")
endif()
message(STATUS "find_package and pkg-config consumers built and ran")
