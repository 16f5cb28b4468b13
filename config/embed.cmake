# Turns config/hookgate.yaml into a C array (config_default_yaml) so the binary carries
# its default configuration byte for byte. Invoked by the build as: cmake -DIN= -DOUT= -P.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* generated from config/hookgate.yaml by config/embed.cmake; do not edit */\n"
  "#include <stddef.h>\n"
  "const char config_default_yaml[] = {${bytes} 0x00};\n"
  "const size_t config_default_yaml_len = ${len};\n")
