#!/usr/bin/env bash
# libskiff as an embedder gets it: `cmake --install` of this build into a
# fresh prefix, examples/ configured against it with find_package(skiff),
# built, and run (it boots the test guest from libskiff, pauses, resumes
# and stops it; see examples/harness.cpp).
# usage: library_example.sh BUILD_DIR SOURCE_DIR
source "$(dirname "$0")/lib.sh"
BUILD=$1 SOURCE=$2
require_kvm
prefix="$TEST_TMP/prefix"
cmake --install "$BUILD" --prefix "$prefix" >"$TEST_TMP/install.log" || { cat "$TEST_TMP/install.log"; fail "cmake --install"; }
for file in include/skiff/skiff.h include/skiff/config.h lib/cmake/skiff/skiffConfig.cmake; do
    [ -e "$prefix/$file" ] || fail "not installed: $file"
done
# SKIFF_EXAMPLE_CMAKE_ARGS: extra arguments (the sanitized build's compiler and flags).
read -ra extra_args <<<"${SKIFF_EXAMPLE_CMAKE_ARGS:-}"
cmake -S "$SOURCE/examples" -B "$TEST_TMP/example" -DCMAKE_PREFIX_PATH="$prefix" "${extra_args[@]}" \
    >"$TEST_TMP/configure.log" 2>&1 ||
    { cat "$TEST_TMP/configure.log"; fail "configuring examples/ with find_package(skiff)"; }
cmake --build "$TEST_TMP/example" >"$TEST_TMP/build.log" 2>&1 || { cat "$TEST_TMP/build.log"; fail "building examples/"; }
# Only skiff::Vm's members are exported: none of skiff's internals.
internals=$(nm -D --defined-only "$prefix"/lib/libskiff.so | c++filt | grep ' skiff::' | grep -v ' skiff::Vm::' || true)
[ -z "$internals" ] || fail "libskiff exports more than skiff::Vm: $internals"
echo "  libskiff exports $(nm -D --defined-only "$prefix"/lib/libskiff.so | c++filt | grep -c ' skiff::Vm::') skiff::Vm symbols and no other skiff:: symbol"
LD_LIBRARY_PATH="$prefix/lib" "$TEST_TMP/example/harness" || fail "the example harness failed"
echo "PASS: examples/ built against the installed libskiff and ran"
