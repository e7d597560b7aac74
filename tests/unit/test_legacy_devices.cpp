#include "devices/legacy/acpi_sleep.h"
#include "devices/legacy/boot_doorbell.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial_8250.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

namespace {

struct FakeLine final : skiff::InterruptLine {
    bool level = false;
    int edges = 0;
    void set_level(bool asserted) override {
        if (asserted && !level) {
            ++edges;
        }
        level = asserted;
    }
};

uint8_t read_register(skiff::BusDevice& device, uint64_t offset) {
    uint8_t value = 0;
    device.read(offset, std::span<uint8_t>(&value, 1));
    return value;
}

void write_register(skiff::BusDevice& device, uint64_t offset, uint8_t value) {
    device.write(offset, std::span<const uint8_t>(&value, 1));
}

}  // namespace

TEST_CASE("8250 transmits bytes to the sink and reports an empty holder", "[serial]") {
    auto line = std::make_shared<FakeLine>();
    std::string output;
    skiff::Serial8250 serial(line, [&output](std::span<const uint8_t> bytes) {
        output.append(bytes.begin(), bytes.end());
    });
    for (char c : std::string("hi\n")) {
        write_register(serial, 0, static_cast<uint8_t>(c));
    }
    CHECK(output == "hi\n");
    CHECK((read_register(serial, 5) & 0x60) == 0x60);
    CHECK_FALSE(line->level);  // no interrupts enabled
}

TEST_CASE("8250 passes Linux's loopback and scratch probes", "[serial]") {
    skiff::Serial8250 serial(nullptr, nullptr);
    write_register(serial, 7, 0xa5);
    CHECK(read_register(serial, 7) == 0xa5);
    write_register(serial, 4, 0x10 | 0x0a);  // loop | RTS | OUT2
    CHECK((read_register(serial, 6) & 0xf0) == 0x90);
    write_register(serial, 4, 0x10 | 0x1f);
    CHECK((read_register(serial, 6) & 0xf0) == 0xf0);
    // FIFO detection: IIR reports the FIFO bits once enabled.
    write_register(serial, 2, 0x01);
    CHECK((read_register(serial, 2) & 0xc0) == 0xc0);
    // Divisor latch.
    write_register(serial, 3, 0x80);
    write_register(serial, 0, 0x01);
    write_register(serial, 1, 0x02);
    CHECK(read_register(serial, 0) == 0x01);
    CHECK(read_register(serial, 1) == 0x02);
    write_register(serial, 3, 0x03);
}

TEST_CASE("8250 receive raises and clears its interrupt", "[serial]") {
    auto line = std::make_shared<FakeLine>();
    skiff::Serial8250 serial(line, nullptr);
    write_register(serial, 1, 0x01);  // receive interrupt
    const uint8_t input[] = {'a', 'b'};
    CHECK(serial.enqueue_input(input) == 2);
    CHECK(line->level);
    CHECK((read_register(serial, 2) & 0x0f) == 0x04);
    CHECK((read_register(serial, 5) & 0x01) == 0x01);
    CHECK(read_register(serial, 0) == 'a');
    CHECK(read_register(serial, 0) == 'b');
    CHECK_FALSE(line->level);
    CHECK((read_register(serial, 5) & 0x01) == 0);
}

TEST_CASE("8250 transmit-empty interrupt is acknowledged by reading IIR", "[serial]") {
    auto line = std::make_shared<FakeLine>();
    skiff::Serial8250 serial(line, [](std::span<const uint8_t>) {});
    write_register(serial, 1, 0x02);
    CHECK(line->level);
    CHECK((read_register(serial, 2) & 0x0f) == 0x02);
    CHECK_FALSE(line->level);
    write_register(serial, 0, 'x');
    CHECK(line->level);
    CHECK(line->edges == 2);
}

TEST_CASE("8250 input is bounded", "[serial]") {
    skiff::Serial8250 serial(nullptr, nullptr);
    std::vector<uint8_t> flood(skiff::Serial8250::kInputCapacity + 100, 'z');
    CHECK(serial.enqueue_input(flood) == skiff::Serial8250::kInputCapacity);
    CHECK(serial.input_space() == 0);
    CHECK(serial.enqueue_input(flood) == 0);
}

TEST_CASE("i8042 reset command ends the VM, probe commands answer", "[i8042]") {
    int resets = 0;
    skiff::I8042 controller([&resets] { ++resets; });
    write_register(controller, 4, 0xaa);  // self test
    CHECK((read_register(controller, 4) & 0x01) == 0x01);
    CHECK(read_register(controller, 0) == 0x55);
    CHECK((read_register(controller, 4) & 0x01) == 0);
    write_register(controller, 4, 0x60);
    write_register(controller, 0, 0x12);
    write_register(controller, 4, 0x20);
    CHECK(read_register(controller, 0) == 0x12);
    CHECK(resets == 0);
    write_register(controller, 4, 0xfe);
    CHECK(resets == 1);
}

TEST_CASE("boot doorbell fires once, on the magic value only", "[doorbell]") {
    int rings = 0;
    skiff::BootDoorbell doorbell(skiff::BootDoorbell::Clock::now(),
                                 [&rings](std::chrono::microseconds) { ++rings; });
    write_register(doorbell, 0, 122);
    write_register(doorbell, 4, 123);
    CHECK(rings == 0);
    CHECK_FALSE(doorbell.rung());
    write_register(doorbell, 0, 123);
    write_register(doorbell, 0, 123);
    CHECK(rings == 1);
    CHECK(doorbell.rung());
}

namespace {

std::vector<uint8_t> read_all_output(skiff::I8042& controller) {
    std::vector<uint8_t> bytes;
    while ((read_register(controller, 4) & 0x01) != 0 && bytes.size() < 64) {
        bytes.push_back(read_register(controller, 0));
    }
    return bytes;
}

}  // namespace

TEST_CASE("i8042 Ctrl-Alt-Del: set 1 scan codes while translating, one IRQ 1 edge per byte", "[i8042]") {
    auto line = std::make_shared<FakeLine>();
    skiff::I8042 controller(nullptr, line);
    CHECK((read_register(controller, 4) & 0x10) == 0x10);  // keyboard not inhibited
    REQUIRE(controller.press_ctrl_alt_del());
    CHECK(line->edges == 1);
    CHECK_FALSE(line->level);  // pulsed: the ISA line is edge-triggered
    // Ctrl, Alt, Delete (E0 53) down, then up in reverse order.
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d});
    CHECK(line->edges == 8);  // the first, then one per byte moved into the output register
    CHECK(read_register(controller, 0) == 0);  // nothing left
    CHECK(line->edges == 8);
}

TEST_CASE("i8042 Ctrl-Alt-Del: set 2 without translation, no IRQ when the guest disabled it", "[i8042]") {
    auto line = std::make_shared<FakeLine>();
    skiff::I8042 controller(nullptr, line);
    write_register(controller, 4, 0x60);  // write command byte
    write_register(controller, 0, 0x04);  // system flag only: no translation, no keyboard interrupt
    REQUIRE(controller.press_ctrl_alt_del());
    CHECK(read_all_output(controller) ==
          std::vector<uint8_t>{0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14});
    CHECK(line->edges == 0);
}

TEST_CASE("i8042 Ctrl-Alt-Del is refused, whole, when the output buffer lacks room", "[i8042]") {
    skiff::I8042 controller(nullptr);  // no interrupt line: a polling guest
    REQUIRE(controller.press_ctrl_alt_del());  // 8 of 16 bytes
    REQUIRE(controller.press_ctrl_alt_del());  // 16 of 16
    CHECK_FALSE(controller.press_ctrl_alt_del());
    CHECK(read_all_output(controller).size() == skiff::I8042::kOutputCapacity);
    CHECK(controller.press_ctrl_alt_del());
}

TEST_CASE("i8042 keyboard answers the commands of Linux's atkbd probe", "[i8042]") {
    auto line = std::make_shared<FakeLine>();
    skiff::I8042 controller(nullptr, line);
    write_register(controller, 0, 0xf2);  // identify
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0xfa, 0xab, 0x83});
    CHECK(line->edges == 3);
    write_register(controller, 0, 0xed);  // set LEDs ...
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0xfa});
    write_register(controller, 0, 0x00);  // ... to this
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0xfa});
    write_register(controller, 0, 0xf4);  // enable
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0xfa});
    write_register(controller, 0, 0xff);  // reset: acknowledge, then self-test passed
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0xfa, 0xaa});
    write_register(controller, 0, 0xf0);  // scan code set: which one?
    write_register(controller, 0, 0x00);
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0xfa, 0x02});
}

TEST_CASE("i8042 controller answers replace unread keyboard bytes and raise no IRQ", "[i8042]") {
    auto line = std::make_shared<FakeLine>();
    skiff::I8042 controller(nullptr, line);
    REQUIRE(controller.press_ctrl_alt_del());
    int edges = line->edges;
    write_register(controller, 4, 0x20);  // read command byte
    CHECK((read_register(controller, 4) & 0x08) == 0x08);  // last write was a command
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0x65});
    CHECK(line->edges == edges);
    write_register(controller, 4, 0xd1);  // write output port ...
    write_register(controller, 0, 0x03);
    CHECK((read_register(controller, 4) & 0x08) == 0);
    write_register(controller, 4, 0xd0);  // ... and read it back
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0x03});
    write_register(controller, 4, 0xab);  // keyboard interface test: no error
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0x00});
}

// The steps of Linux's i8042_check_aux(), which decide whether the guest
// gets a second port (and an "i8042" line on IRQ 12).
TEST_CASE("i8042 second port: loopback on IRQ 12 with the AUX status bit, as Linux checks it", "[i8042]") {
    auto keyboard = std::make_shared<FakeLine>();
    auto aux = std::make_shared<FakeLine>();
    skiff::I8042 controller(nullptr, keyboard, aux);
    // Loopback with the port's interrupt disabled: the byte, flagged AUX, no IRQ.
    write_register(controller, 4, 0xd3);
    write_register(controller, 0, 0x5a);
    CHECK((read_register(controller, 4) & 0x21) == 0x21);  // output full, from the second port
    CHECK(read_register(controller, 0) == 0x5a);
    CHECK(aux->edges == 0);
    // Bit assignment: disabling and enabling the port shows in the command byte.
    write_register(controller, 4, 0xa8);
    write_register(controller, 4, 0x20);
    CHECK((read_register(controller, 0) & 0x20) == 0);
    write_register(controller, 4, 0xa7);
    write_register(controller, 4, 0x20);
    CHECK((read_register(controller, 0) & 0x20) == 0x20);
    // Enable the port and its interrupt, then loop 0xa5 back: one IRQ 12 edge.
    write_register(controller, 4, 0x60);
    write_register(controller, 0, 0x47);  // keyboard and AUX interrupts, system flag, translate
    write_register(controller, 4, 0xd3);
    write_register(controller, 0, 0xa5);
    CHECK(aux->edges == 1);
    CHECK_FALSE(aux->level);
    CHECK(keyboard->edges == 0);
    CHECK((read_register(controller, 4) & 0x20) == 0x20);
    CHECK(read_register(controller, 0) == 0xa5);
    CHECK((read_register(controller, 4) & 0x21) == 0);
    // The interface test passes; a byte sent to the absent mouse times out.
    write_register(controller, 4, 0xa9);
    CHECK(read_all_output(controller) == std::vector<uint8_t>{0x00});
    write_register(controller, 4, 0xd4);
    write_register(controller, 0, 0xf2);  // "identify", to no one
    CHECK((read_register(controller, 4) & 0x61) == 0x61);  // full, AUX, timeout
    CHECK(read_register(controller, 0) == 0xfe);
    CHECK(aux->edges == 2);
}

TEST_CASE("i8042 bytes from both ports: each raises its own line as it reaches the front", "[i8042]") {
    auto keyboard = std::make_shared<FakeLine>();
    auto aux = std::make_shared<FakeLine>();
    skiff::I8042 controller(nullptr, keyboard, aux);
    write_register(controller, 4, 0x60);
    write_register(controller, 0, 0x47);
    write_register(controller, 4, 0xd2);  // a byte "from the keyboard" ...
    write_register(controller, 0, 0x1c);
    write_register(controller, 4, 0xd3);  // ... then one from the second port
    write_register(controller, 0, 0x08);
    CHECK(keyboard->edges == 1);
    CHECK(aux->edges == 0);  // behind the keyboard's byte
    CHECK((read_register(controller, 4) & 0x20) == 0);
    CHECK(read_register(controller, 0) == 0x1c);
    CHECK(aux->edges == 1);
    CHECK((read_register(controller, 4) & 0x20) == 0x20);
    CHECK(read_register(controller, 0) == 0x08);
}

TEST_CASE("ACPI sleep control: SLP_EN with the soft-off type powers off, nothing else does", "[acpi-sleep]") {
    int power_offs = 0;
    skiff::AcpiSleep sleep([&] { ++power_offs; });
    constexpr uint8_t kSleepEnable = 1u << 5;
    // Linux's acpi_hw_extended_sleep: clear the wake status, then SLP_TYP | SLP_EN.
    write_register(sleep, skiff::AcpiSleep::kStatusOffset, 0x80);
    CHECK(read_register(sleep, skiff::AcpiSleep::kStatusOffset) == 0);
    write_register(sleep, skiff::AcpiSleep::kControlOffset, skiff::AcpiSleep::kSoftOffType << 2);  // no SLP_EN
    CHECK(power_offs == 0);
    write_register(sleep, skiff::AcpiSleep::kControlOffset, (3 << 2) | kSleepEnable);  // S3: not offered
    CHECK(power_offs == 0);
    write_register(sleep, skiff::AcpiSleep::kStatusOffset, (skiff::AcpiSleep::kSoftOffType << 2) | kSleepEnable);
    CHECK(power_offs == 0);
    write_register(sleep, skiff::AcpiSleep::kControlOffset, (skiff::AcpiSleep::kSoftOffType << 2) | kSleepEnable);
    CHECK(power_offs == 1);
    CHECK(read_register(sleep, skiff::AcpiSleep::kControlOffset) == 0);
}
