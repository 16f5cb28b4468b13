# Turns the files of a folder into one C table (webconsole_file NAME[] and NAME_count, see
# server/net/webconsole.h), each file's bytes an array of their own, in name order: the web
# console (console/) travels inside the binary, as config/embed.cmake carries single files.
# Only the folder's own regular files, not those whose name starts with a dot; names are taken as they are (no path, no escaping
# needed: the build's own file names).
# Invoked by the build as: cmake -DDIR= -DOUT= -DNAME= -P.
include(${CMAKE_CURRENT_LIST_DIR}/embed_bytes.cmake)
file(GLOB files LIST_DIRECTORIES false RELATIVE ${DIR} ${DIR}/*)
list(SORT files)
set(arrays "")
set(table "")
set(i 0)
foreach(f ${files})
  if(f MATCHES "^\\.")
    continue() # an editor's swap file or a dotfile is not part of the page
  endif()
  if(NOT f MATCHES "^[A-Za-z0-9._-]+$")
    message(FATAL_ERROR "${DIR}/${f}: a console file name must be letters, digits, '.', '_' or '-'")
  endif()
  embed_bytes(${DIR}/${f} bytes len)
  string(APPEND arrays "static const char file_${i}[] = {${bytes} 0x00};\n")
  string(APPEND table "    {\"${f}\", file_${i}, ${len}},\n")
  math(EXPR i "${i} + 1")
endforeach()
if(i EQUAL 0)
  message(FATAL_ERROR "${DIR}: no files to embed")
endif()
file(WRITE ${OUT} "/* generated from ${DIR} by config/embed_files.cmake; do not edit */\n"
  "#include \"webconsole.h\"\n"
  "${arrays}"
  "const webconsole_file ${NAME}[] = {\n${table}};\n"
  "const size_t ${NAME}_count = ${i};\n")
