# Warnings are errors for sluice's own code; third-party headers are included
# as SYSTEM so their warnings do not stop the build.
function(sluice_warnings target)
  # -Wno-mismatched-new-delete: GCC 12 reports Asio's coroutine frame
  # allocator (operator new/delete pairs of awaitable_frame_base) falsely.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow=local -Wnon-virtual-dtor
                                           -Wimplicit-fallthrough -Wno-mismatched-new-delete)
endfunction()

# sluice_library(<component> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Defines target sluice_<component>, exported and aliased as sluice::<component>.
function(sluice_library component)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(target sluice_${component})
  add_library(${target} ${ARG_SOURCES})
  add_library(sluice::${component} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${component} OUTPUT_NAME sluice_${component})
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  sluice_warnings(${target})
  set_property(GLOBAL APPEND PROPERTY SLUICE_INSTALLED_TARGETS ${target})
endfunction()
