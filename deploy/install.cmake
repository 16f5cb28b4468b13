# Run by `cmake --install` (CMakeLists.txt's install(SCRIPT)) with HOOKGATE_SOURCE_DIR,
# HOOKGATE_BINARY_DIR, HOOKGATE_SBINDIR, HOOKGATE_SYSCONFDIR and HOOKGATE_UNIT_DIR set: installs the systemd
# units with the install prefix written into them, and the configuration file only where
# none is. Everything lands under $DESTDIR, as the generated install rules do.

# GNUInstallDirs' rule: under the prefix /usr the configuration goes to /etc
if(IS_ABSOLUTE "${HOOKGATE_SYSCONFDIR}")
  set(etc "${HOOKGATE_SYSCONFDIR}")
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc "/${HOOKGATE_SYSCONFDIR}")
else()
  set(etc "${CMAKE_INSTALL_PREFIX}/${HOOKGATE_SYSCONFDIR}")
endif()
if(IS_ABSOLUTE "${HOOKGATE_SBINDIR}")
  set(HOOKGATE_SBIN "${HOOKGATE_SBINDIR}")
else()
  set(HOOKGATE_SBIN "${CMAKE_INSTALL_PREFIX}/${HOOKGATE_SBINDIR}")
endif()
if(IS_ABSOLUTE "${HOOKGATE_UNIT_DIR}")
  set(unit_dir "${HOOKGATE_UNIT_DIR}")
else()
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/${HOOKGATE_UNIT_DIR}")
endif()
set(HOOKGATE_CONFIG "${etc}/hookgate/hookgate.yaml")

# the units, their paths filled in (a scratch copy in the build directory: `cmake --install`
# may run from anywhere, the source tree included)
set(scratch "${HOOKGATE_BINARY_DIR}/deploy-units")
file(MAKE_DIRECTORY "${scratch}")
file(GLOB units "${HOOKGATE_SOURCE_DIR}/deploy/*.service.in" "${HOOKGATE_SOURCE_DIR}/deploy/*.socket.in")
set(filled "")
foreach(in ${units})
  get_filename_component(name "${in}" NAME)
  string(REGEX REPLACE "\\.in$" "" name "${name}")
  configure_file("${in}" "${scratch}/${name}" @ONLY)
  list(APPEND filled "${scratch}/${name}")
endforeach()
file(INSTALL DESTINATION "${unit_dir}" TYPE FILE FILES ${filled})

# the configuration: an operator's file stays as it is
if(EXISTS "$ENV{DESTDIR}${HOOKGATE_CONFIG}")
  message(STATUS "Kept: $ENV{DESTDIR}${HOOKGATE_CONFIG} (it exists; the example is in share/doc/hookgate)")
else()
  file(INSTALL DESTINATION "${etc}/hookgate" TYPE FILE FILES "${HOOKGATE_SOURCE_DIR}/config/hookgate.yaml")
endif()
