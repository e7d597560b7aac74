// Files a caller names: input files (vmm/file_reader.h) and output files
// (vmm/output_file.h, the console file), against FIFOs, devices and sizes.
#include "vmm/boot_files.h"
#include "vmm/console.h"
#include "vmm/file_reader.h"
#include "vmm/output_file.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace {

// A temporary directory, removed with its files.
struct TempDir {
    std::string path;
    TempDir() {
        char pattern[] = "/tmp/skiff-unit-files.XXXXXX";
        path = ::mkdtemp(pattern);
    }
    ~TempDir() { std::system(("rm -rf " + path).c_str()); }
    std::string file(const std::string& name, const std::string& contents) const {
        std::string full = path + "/" + name;
        std::ofstream(full) << contents;
        return full;
    }
};

}  // namespace

TEST_CASE("input files: FIFOs and devices are refused without blocking", "[files]") {
    TempDir dir;
    std::string fifo = dir.path + "/fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto from_fifo = skiff::read_file(fifo, 1024, "config file", "allowed");
    REQUIRE_FALSE(from_fifo.ok());
    CHECK(from_fifo.error().message == "config file " + fifo + " is a FIFO: give a regular file");
    auto from_device = skiff::InputFile::open("/dev/null", "initrd");
    REQUIRE_FALSE(from_device.ok());
    CHECK(from_device.error().message == "initrd /dev/null is a device: give a regular file");
}

TEST_CASE("input files: the size limit and its reason", "[files]") {
    TempDir dir;
    std::string path = dir.file("config.json", std::string(100, 'x'));
    auto fits = skiff::read_file(path, 100, "config file", "allowed for a config file");
    REQUIRE(fits.ok());
    CHECK(fits->size() == 100);
    auto too_big = skiff::read_file(path, 99, "config file", "allowed for a config file");
    REQUIRE_FALSE(too_big.ok());
    CHECK(too_big.error().message ==
          "config file " + path + " is 100 bytes, more than the 99 bytes allowed for a config file");
}

TEST_CASE("kernel files: refused on their first bytes; initrds read when placed", "[files]") {
    TempDir dir;
    std::string text = dir.file("notes.txt", std::string(5000, 'n'));
    auto kernel = skiff::read_kernel_file(text, 1 << 20);
    REQUIRE_FALSE(kernel.ok());
    CHECK(kernel.error().message.find("not a kernel skiff can boot (5000 bytes)") != std::string::npos);

    std::string initrd_path = dir.file("initrd", "0123456789");
    auto initrd = skiff::open_initrd(initrd_path, 1 << 20);
    REQUIRE(initrd.ok());
    CHECK(initrd->size == 10);
    std::string place(10, '\0');
    REQUIRE(initrd->copy_to(std::as_writable_bytes(std::span<char>(place))).ok());
    CHECK(place == "0123456789");
    auto too_big = skiff::open_initrd(initrd_path, 9);
    REQUIRE_FALSE(too_big.ok());
    CHECK(too_big.error().message.find("give the VM more --memory") != std::string::npos);
}

TEST_CASE("output files: a FIFO without a reader is an error; a console file is emptied only at begin()",
          "[files][console]") {
    TempDir dir;
    std::string fifo = dir.path + "/fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto no_reader = skiff::open_output_file(fifo, "log_path");
    REQUIRE_FALSE(no_reader.ok());
    CHECK(no_reader.error().message == "log_path " + fifo + " is a FIFO with no reader: start its reader first");

    auto no_directory = skiff::open_output_file(dir.path + "/missing/log", "log_path");
    REQUIRE_FALSE(no_directory.ok());
    CHECK(no_directory.error().message.find("directory " + dir.path + "/missing does not exist") !=
          std::string::npos);

    std::string kernel = dir.file("kernel", "precious");
    skiff::SerialConfig serial;
    serial.output = skiff::SerialOutput::File;
    serial.path = kernel;
    auto console = skiff::ConsoleOutput::open(serial);
    REQUIRE(console.ok());
    struct stat status {};
    REQUIRE(::stat(kernel.c_str(), &status) == 0);
    CHECK(status.st_size == 8);  // a start-up that fails now leaves it whole
    console->begin();
    REQUIRE(::stat(kernel.c_str(), &status) == 0);
    CHECK(status.st_size == 0);
}
