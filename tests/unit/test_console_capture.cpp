#include "vmm/console.h"
#include "vmm/console_capture.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using skiff::ConsoleCapture;

namespace {

void append(ConsoleCapture& capture, std::string_view text) {
    capture.append(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace

TEST_CASE("console capture keeps the last N bytes and counts the rest", "[console]") {
    ConsoleCapture capture(8);
    CHECK(capture.contents().empty());
    append(capture, "hello");
    CHECK(capture.contents() == "hello");
    CHECK(capture.discarded_bytes() == 0);
    append(capture, " world");
    CHECK(capture.contents() == "lo world");
    CHECK(capture.total_bytes() == 11);
    CHECK(capture.discarded_bytes() == 3);
    // A chunk longer than the bound: only its tail stays.
    append(capture, "0123456789abcdef");
    CHECK(capture.contents() == "89abcdef");
    CHECK(capture.total_bytes() == 27);
    CHECK(capture.discarded_bytes() == 19);
    CHECK(ConsoleCapture(0).limit() == 1);
    CHECK(ConsoleCapture().limit() == 1024 * 1024);
}

TEST_CASE("console capture: concurrent writers and readers", "[console]") {
    ConsoleCapture capture(1000);
    constexpr int kWriters = 4;
    constexpr int kChunks = 2000;
    std::vector<std::thread> writers;
    // The writers start once the reader runs: 8000 small appends can
    // otherwise be over before the reader's first look.
    std::atomic<bool> reading{false};
    for (int writer = 0; writer < kWriters; ++writer) {
        writers.emplace_back([&capture, &reading, writer] {
            while (!reading.load()) {
                std::this_thread::yield();
            }
            std::string chunk(5, static_cast<char>('a' + writer));
            for (int index = 0; index < kChunks; ++index) {
                append(capture, chunk);
            }
        });
    }
    size_t reads = 0;
    do {
        std::string seen = capture.contents();
        CHECK(seen.size() <= 1000);
        ++reads;
        reading.store(true);
    } while (capture.total_bytes() < uint64_t{kWriters} * kChunks * 5);
    for (auto& writer : writers) {
        writer.join();
    }
    CHECK(capture.total_bytes() == uint64_t{kWriters} * kChunks * 5);
    CHECK(capture.discarded_bytes() == capture.total_bytes() - 1000);
    std::string kept = capture.contents();
    REQUIRE(kept.size() == 1000);
    // Chunks are appended whole: the kept text is runs of 5 equal letters
    // (the oldest possibly cut), never interleaved mid-chunk.
    for (size_t start = kept.size() % 5; start < kept.size(); start += 5) {
        CHECK(kept.substr(start, 5) == std::string(5, kept[start]));
    }
    CHECK(reads > 0);
}

TEST_CASE("console capture: wait_for sees text that arrives later, only after `from`", "[console]") {
    ConsoleCapture capture(64);
    append(capture, "early marker\n");
    CHECK(capture.wait_for("marker", std::chrono::milliseconds(0)));
    uint64_t from = capture.total_bytes();
    CHECK_FALSE(capture.wait_for("marker", std::chrono::milliseconds(20), from));
    std::thread writer([&capture] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        // Split across appends, one byte at a time as the UART delivers it.
        for (char byte : std::string("late mar")) {
            append(capture, std::string_view(&byte, 1));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        append(capture, "ker\n");
    });
    CHECK(capture.wait_for("marker", std::chrono::seconds(5), from));
    writer.join();
    CHECK_FALSE(capture.wait_for("absent", std::chrono::milliseconds(10)));
}

TEST_CASE("console output in capture mode keeps what the guest writes", "[console]") {
    skiff::SerialConfig config;
    config.output = skiff::SerialOutput::Capture;
    config.capture_limit = 4;
    auto console = skiff::ConsoleOutput::open(config);
    REQUIRE(console.ok());
    REQUIRE(console->capture() != nullptr);
    const uint8_t bytes[] = {'a', 'b', 'c', 'd', 'e'};
    console->write(bytes);
    CHECK(console->capture()->contents() == "bcde");

    config.output = skiff::SerialOutput::None;
    auto discarding = skiff::ConsoleOutput::open(config);
    REQUIRE(discarding.ok());
    CHECK(discarding->capture() == nullptr);
}

TEST_CASE("console capture hands every chunk to its listener, whole", "[console]") {
    ConsoleCapture capture(4);
    std::string heard;
    capture.set_listener([&heard](std::span<const uint8_t> bytes) { heard.append(bytes.begin(), bytes.end()); });
    append(capture, "ab");
    append(capture, "cdefgh");  // longer than the bound: kept in part, heard whole
    CHECK(heard == "abcdefgh");
    CHECK(capture.contents() == "efgh");
    capture.set_listener(nullptr);
    append(capture, "ij");
    CHECK(heard == "abcdefgh");
}
