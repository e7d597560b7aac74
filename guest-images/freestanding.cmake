# Included by each guest image's directory: a guest is not a host program,
# so nothing the host build adds (sanitizers, coverage, LTO, -fPIE) may
# reach it. Resets the inherited flags and directory options for the
# including directory only.
foreach(language C ASM)
  set(CMAKE_${language}_FLAGS "")
  foreach(config DEBUG RELEASE RELWITHDEBINFO MINSIZEREL)
    set(CMAKE_${language}_FLAGS_${config} "")
  endforeach()
endforeach()
set(CMAKE_EXE_LINKER_FLAGS "")
foreach(config DEBUG RELEASE RELWITHDEBINFO MINSIZEREL)
  set(CMAKE_EXE_LINKER_FLAGS_${config} "")
endforeach()
set_property(DIRECTORY PROPERTY COMPILE_OPTIONS "")
set_property(DIRECTORY PROPERTY COMPILE_DEFINITIONS "")
set_property(DIRECTORY PROPERTY LINK_OPTIONS "")
set_property(DIRECTORY PROPERTY INCLUDE_DIRECTORIES "")
set(CMAKE_POSITION_INDEPENDENT_CODE OFF)
set(CMAKE_INTERPROCEDURAL_OPTIMIZATION OFF)
