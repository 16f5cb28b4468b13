# embed_bytes(PATH BYTES LEN): PATH's bytes as C initialiser text ("0x2f,0x2a,..."), and
# their count: the one conversion config/embed.cmake (one file) and
# config/embed_files.cmake (a folder) share.
function(embed_bytes path bytes_var len_var)
  file(READ ${path} hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  set(${bytes_var} "${bytes}" PARENT_SCOPE)
  set(${len_var} ${len} PARENT_SCOPE)
endfunction()
