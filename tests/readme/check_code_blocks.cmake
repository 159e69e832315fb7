# cmake -DDOCS=<a.md,b.md> -DSOURCE_DIR=<tree> -DEXAMPLES=examples/readme -DWORK_DIR=<dir>
#       -P check_code_blocks.cmake
#
# Every ```cpp block of the given Markdown files must start with a line
# "// examples/readme/<name>.cc" and be byte-identical to that file, which the
# build compiles (examples/readme/part.cmake). Every file in EXAMPLES must be
# shown by some block, so none is left behind when a block is removed. On a
# mismatch the block is written to WORK_DIR and the diff command printed.
cmake_minimum_required(VERSION 3.25)
string(REPLACE "," ";" DOCS "${DOCS}")  # comma-separated: a list would not survive add_test
set(fence_open "```cpp\n")
set(fence_close "\n```")
set(errors "")
set(shown "")
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

foreach(doc IN LISTS DOCS)
  file(READ ${SOURCE_DIR}/${doc} text)
  # Other spellings of a C++ fence would escape the check.
  foreach(other "```c++" "```cxx" "```cc\n" "```c\n" "```C++")
    string(FIND "${text}" "${other}" pos)
    if(NOT pos EQUAL -1)
      string(APPEND errors "${doc}: a code block is fenced as ${other}; use ```cpp\n")
    endif()
  endforeach()
  set(count 0)
  while(TRUE)
    string(FIND "${text}" "${fence_open}" start)
    if(start EQUAL -1)
      break()
    endif()
    string(LENGTH "${fence_open}" open_len)
    math(EXPR body_start "${start} + ${open_len}")
    string(SUBSTRING "${text}" ${body_start} -1 rest)
    string(FIND "${rest}" "${fence_close}" end)
    if(end EQUAL -1)
      string(APPEND errors "${doc}: a ```cpp block is never closed\n")
      break()
    endif()
    math(EXPR count "${count} + 1")
    math(EXPR with_newline "${end} + 1")
    string(SUBSTRING "${rest}" 0 ${with_newline} block)  # ends with its last newline
    string(LENGTH "${fence_close}" close_len)
    math(EXPR after "${end} + ${close_len}")
    string(SUBSTRING "${rest}" ${after} -1 text)

    string(FIND "${block}" "\n" first_nl)
    string(SUBSTRING "${block}" 0 ${first_nl} first_line)
    if(NOT first_line MATCHES "^// (examples/readme/[A-Za-z0-9_]+\\.cc)$")
      string(APPEND errors "${doc}: C++ block ${count} does not start with "
                           "\"// examples/readme/<name>.cc\" (it starts with \"${first_line}\")\n")
      continue()
    endif()
    set(path ${CMAKE_MATCH_1})
    list(APPEND shown ${path})
    if(NOT EXISTS ${SOURCE_DIR}/${path})
      string(APPEND errors "${doc}: C++ block ${count} names ${path}, which does not exist\n")
      continue()
    endif()
    file(READ ${SOURCE_DIR}/${path} expected)
    if(NOT block STREQUAL expected)
      get_filename_component(name ${path} NAME)
      file(WRITE ${WORK_DIR}/${name} "${block}")
      string(APPEND errors "${doc}: C++ block ${count} differs from ${path}:\n"
                           "  diff -u ${SOURCE_DIR}/${path} ${WORK_DIR}/${name}\n")
    endif()
  endwhile()
  message(STATUS "${doc}: ${count} C++ blocks")
endforeach()

file(GLOB files RELATIVE ${SOURCE_DIR} ${SOURCE_DIR}/${EXAMPLES}/*.cc)
foreach(f IN LISTS files)
  if(NOT f IN_LIST shown)
    string(APPEND errors "${f} is not shown in ${DOCS}: remove it or add its block\n")
  endif()
endforeach()

if(errors)
  message(FATAL_ERROR "README code blocks out of date:\n${errors}")
endif()
list(LENGTH shown n)
message(STATUS "every C++ block (${n}) matches its compiled file under ${EXAMPLES}")
