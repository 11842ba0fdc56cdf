# Computes the package's Depends from what its ELF files need, for any target architecture
# (dpkg-shlibdeps does not work for cross builds). Included by cpack through
# CPACK_PROJECT_CONFIG_FILE (see the packaging section of the root CMakeLists.txt).
#
# In:  SLIMCACHE_DEB_ELF_FILES  the binaries and libraries that go into the package
#      CPACK_DEBIAN_PACKAGE_ARCHITECTURE  amd64, arm64, armhf
#      SLIMCACHE_READELF        readelf (any: it reads every architecture)
#      SLIMCACHE_DPKG_ADMINDIR  /var/lib/dpkg unless set
# Out: CPACK_DEBIAN_PACKAGE_DEPENDS, e.g. "libc6 (>= 2.34), libmbedtls14 (>= 2.28.0), ..."
#
# Each DT_NEEDED soname is looked up in the shlibs files of the installed packages of that
# architecture (<admindir>/info/<pkg>:<arch>.shlibs, as dpkg-shlibdeps does). For libc6 and
# libstdc++6 the floor comes from the newest GLIBC_/GLIBCXX_ symbol version the files use.
# An unresolved soname is a fatal error: the package would lie about what it needs.
if(NOT SLIMCACHE_DPKG_ADMINDIR)
  set(SLIMCACHE_DPKG_ADMINDIR /var/lib/dpkg)
endif()
set(_arch ${CPACK_DEBIAN_PACKAGE_ARCHITECTURE})
file(GLOB _shlibs "${SLIMCACHE_DPKG_ADMINDIR}/info/*:${_arch}.shlibs")
if(NOT _shlibs)
  message(FATAL_ERROR "debian_depends: no ${_arch} shlibs files in ${SLIMCACHE_DPKG_ADMINDIR}/info "
                      "(install the ${_arch} libraries: toolchains/install-deps.sh --cross)")
endif()

set(_needed "")
set(_glibc_max 0)
set(_glibcxx_max 0)
foreach(elf IN LISTS SLIMCACHE_DEB_ELF_FILES)
  execute_process(COMMAND ${SLIMCACHE_READELF} -d -V --wide ${elf}
                  OUTPUT_VARIABLE _out RESULT_VARIABLE _rc ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "debian_depends: readelf ${elf}: ${_err}")
  endif()
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]]+\\]" _lines "${_out}")
  foreach(l IN LISTS _lines)
    string(REGEX REPLACE ".*\\[([^]]+)\\]" "\\1" soname "${l}")
    list(APPEND _needed ${soname})
  endforeach()
  string(REGEX MATCHALL "Name: GLIBC_2\\.[0-9]+" _v "${_out}")
  foreach(v IN LISTS _v)
    string(REGEX REPLACE "Name: GLIBC_2\\." "" n "${v}")
    if(n GREATER _glibc_max)
      set(_glibc_max ${n})
    endif()
  endforeach()
  string(REGEX MATCHALL "Name: GLIBCXX_3\\.4\\.[0-9]+" _v "${_out}")
  foreach(v IN LISTS _v)
    string(REGEX REPLACE "Name: GLIBCXX_3\\.4\\." "" n "${v}")
    if(n GREATER _glibcxx_max)
      set(_glibcxx_max ${n})
    endif()
  endforeach()
endforeach()
list(REMOVE_DUPLICATES _needed)
list(SORT _needed)

set(_deps "")
foreach(soname IN LISTS _needed)
  # libfoo.so.14 -> "libfoo 14", as shlibs files name them.
  if(NOT soname MATCHES "^(.+)\\.so\\.([0-9.]+)$")
    message(FATAL_ERROR "debian_depends: cannot parse soname ${soname}")
  endif()
  set(_lib "${CMAKE_MATCH_1}")
  set(_ver "${CMAKE_MATCH_2}")
  set(_dep "")
  foreach(f IN LISTS _shlibs)
    file(STRINGS ${f} _entries)
    foreach(e IN LISTS _entries)
      if(e MATCHES "^(udeb: )?([^ ]+) ([^ ]+) (.+)$" AND NOT CMAKE_MATCH_1 AND CMAKE_MATCH_2 STREQUAL _lib
         AND CMAKE_MATCH_3 STREQUAL _ver)
        set(_dep "${CMAKE_MATCH_4}")
        break()
      endif()
    endforeach()
    if(_dep)
      break()
    endif()
  endforeach()
  if(NOT _dep)
    message(FATAL_ERROR "debian_depends: no installed ${_arch} package provides ${soname} "
                        "(no shlibs entry '${_lib} ${_ver}')")
  endif()
  string(REGEX REPLACE " .*" "" _pkg "${_dep}")
  if(_pkg STREQUAL "libc6" AND _glibc_max GREATER 0)
    set(_dep "libc6 (>= 2.${_glibc_max})")
  elseif(_pkg STREQUAL "libstdc++6" AND _glibcxx_max GREATER 0)
    # libstdc++'s ABI versions by GCC release (libstdc++ manual, "ABI Policy").
    if(_glibcxx_max GREATER_EQUAL 31)
      set(_dep "libstdc++6 (>= 13)")
    elseif(_glibcxx_max GREATER_EQUAL 30)
      set(_dep "libstdc++6 (>= 12)")
    elseif(_glibcxx_max GREATER_EQUAL 29)
      set(_dep "libstdc++6 (>= 11)")
    elseif(_glibcxx_max GREATER_EQUAL 28)
      set(_dep "libstdc++6 (>= 10)")
    else()
      set(_dep "libstdc++6 (>= 9)")
    endif()
  endif()
  list(APPEND _deps "${_dep}")
endforeach()
list(REMOVE_DUPLICATES _deps)
string(REPLACE ";" ", " CPACK_DEBIAN_PACKAGE_DEPENDS "${_deps}")
message(STATUS "debian_depends (${_arch}): ${CPACK_DEBIAN_PACKAGE_DEPENDS}")
