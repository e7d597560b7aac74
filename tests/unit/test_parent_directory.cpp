#include "vmm/parent_directory.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

using skiff::parent_directory;
using skiff::require_parent_directory;

TEST_CASE("the directory of a path", "[parent_directory]") {
    CHECK(parent_directory("file") == ".");
    CHECK(parent_directory("/file") == "/");
    CHECK(parent_directory("/x/y/file") == "/x/y");
    CHECK(parent_directory("/x//file") == "/x");
    CHECK(parent_directory("x/file") == "x");
}

TEST_CASE("files skiff creates need an existing directory", "[parent_directory]") {
    CHECK(require_parent_directory("/tmp/skiff.log").ok());
    CHECK(require_parent_directory("relative.log").ok());
    auto missing = require_parent_directory("/nonexistent-skiff-dir/sub/skiff.log");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message == "directory /nonexistent-skiff-dir/sub does not exist: create it first");
    auto file = require_parent_directory("/proc/self/status/x.log");
    REQUIRE_FALSE(file.ok());
    CHECK_THAT(file.error().message, Catch::Contains("/proc/self/status"));
}
