# Turns a file into a C array (NAME, default config_default_yaml, and NAME_len) so the
# binary carries it byte for byte: config/hookgate.yaml, the PostgreSQL migrations, the
# OpenAPI document (gen/openapi.json).
# Invoked by the build as: cmake -DIN= -DOUT= [-DNAME=] -P.
if(NOT NAME)
  set(NAME config_default_yaml)
endif()
include(${CMAKE_CURRENT_LIST_DIR}/embed_bytes.cmake)
embed_bytes(${IN} bytes len)
get_filename_component(from ${IN} NAME)
file(WRITE ${OUT} "/* generated from ${from} by config/embed.cmake; do not edit */\n"
  "#include <stddef.h>\n"
  "const char ${NAME}[] = {${bytes} 0x00};\n"
  "const size_t ${NAME}_len = ${len};\n")
