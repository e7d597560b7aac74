#include "boot/cpu_state.h"
#include "boot/layout.h"
#include "test_boot_images.h"

#include <catch2/catch.hpp>

using namespace skiff;
using namespace skiff::boot;
using namespace skiff::boot::testing;

namespace {

constexpr uint64_t kPresentWritable = 0x3;
constexpr uint64_t kLargePage = 0x80;

// The IA-32e walk a CPU does for a 2 MiB mapping; nothing if unmapped.
std::optional<uint64_t> translate(const GuestMemory& memory, uint64_t cr3, uint64_t virtual_address) {
    auto entry = [&memory](uint64_t table, uint64_t index) {
        auto value = memory.read_object<uint64_t>(GuestAddress((table & ~0xfffull) + index * 8));
        REQUIRE(value.ok());
        return *value;
    };
    const uint64_t pml4e = entry(cr3, (virtual_address >> 39) & 511);
    if ((pml4e & 1) == 0) {
        return std::nullopt;
    }
    const uint64_t pdpte = entry(pml4e & 0x000ffffffffff000, (virtual_address >> 30) & 511);
    if ((pdpte & 1) == 0) {
        return std::nullopt;
    }
    CHECK((pdpte & kLargePage) == 0);  // no 1 GiB pages here
    const uint64_t pde = entry(pdpte & 0x000ffffffffff000, (virtual_address >> 21) & 511);
    if ((pde & 1) == 0) {
        return std::nullopt;
    }
    REQUIRE((pde & kLargePage) != 0);
    CHECK((pde & kPresentWritable) == kPresentWritable);
    return (pde & 0x000fffffffe00000) | (virtual_address & 0x1fffff);
}

void check_flat(const kvm_segment& segment, uint16_t selector) {
    CHECK(segment.base == 0);
    CHECK(segment.limit == 0xffffffff);
    CHECK(segment.selector == selector);
    CHECK(segment.present == 1);
    CHECK(segment.s == 1);
    CHECK(segment.dpl == 0);
    CHECK(segment.g == 1);
    CHECK(segment.unusable == 0);
}

void check_data_segments(const kvm_sregs& special) {
    for (const kvm_segment* segment : {&special.ds, &special.es, &special.fs, &special.gs, &special.ss}) {
        check_flat(*segment, kDataSelector);
        CHECK(segment->type == 3);  // read/write, accessed
        CHECK(segment->db == 1);
        CHECK(segment->l == 0);
    }
}

}  // namespace

TEST_CASE("the boot GDT holds the documented descriptors", "[boot]") {
    const auto gdt = boot_gdt();
    CHECK(gdt[0] == 0);
    CHECK(gdt[kCode32Selector / 8] == 0x00cf9b000000ffff);
    CHECK(gdt[kCode64Selector / 8] == 0x00af9b000000ffff);
    CHECK(gdt[kDataSelector / 8] == 0x00cf93000000ffff);
    CHECK(kCode64Selector == 0x10);  // Linux __BOOT_CS
    CHECK(kDataSelector == 0x18);    // Linux __BOOT_DS

    const kvm_segment code64 = segment_from_descriptor(gdt[2], 0x10);
    check_flat(code64, 0x10);
    CHECK(code64.type == 11);
    CHECK(code64.l == 1);
    CHECK(code64.db == 0);
    const kvm_segment code32 = segment_from_descriptor(gdt[1], 0x08);
    check_flat(code32, 0x08);
    CHECK(code32.type == 11);
    CHECK(code32.l == 0);
    CHECK(code32.db == 1);

    // A byte-granular descriptor with a base keeps both.
    const kvm_segment small = segment_from_descriptor(0x12409a345678ffff, 0x28);
    CHECK(small.base == 0x12345678);
    CHECK(small.limit == 0xffff);
    CHECK(small.g == 0);
    CHECK(small.type == 10);
    CHECK(small.db == 1);
    CHECK(segment_from_descriptor(0, 0).unusable == 1);
}

TEST_CASE("write_boot_structures identity-maps 0-4 GiB with 2 MiB pages", "[boot]") {
    GuestMemory memory = make_memory(2 * 1024 * 1024);
    REQUIRE(memory.fill(GuestAddress(0), 0x20000, std::byte{0xcc}).ok());
    REQUIRE(write_boot_structures(memory).ok());

    for (uint64_t address : {0x0ull, 0x1234ull, 0x1234567ull, 0x7fffffffull, 0xbfffffffull, 0xfec00000ull,
                             0xfee00123ull, 0xffffffffull}) {
        INFO(std::hex << address);
        CHECK(translate(memory, layout::kPml4.value(), address) == address);
    }
    CHECK_FALSE(translate(memory, layout::kPml4.value(), 0x100000000));
    CHECK_FALSE(translate(memory, layout::kPml4.value(), 0xffffffff81000000));
    // Every other PML4 and PDPT entry is empty (the pages were 0xcc before).
    for (uint64_t index = 1; index < 512; ++index) {
        CHECK(*memory.read_object<uint64_t>(layout::kPml4 + index * 8) == 0);
    }
    for (uint64_t index = 4; index < 512; ++index) {
        CHECK(*memory.read_object<uint64_t>(layout::kPdpt + index * 8) == 0);
    }

    const auto gdt = boot_gdt();
    for (size_t index = 0; index < gdt.size(); ++index) {
        CHECK(*memory.read_object<uint64_t>(layout::kGdt + index * 8) == gdt[index]);
    }
    CHECK(*memory.read_object<uint64_t>(layout::kIdt) == 0);
}

TEST_CASE("write_boot_structures needs low memory", "[boot]") {
    auto memory = GuestMemory::create({{GuestAddress(0x100000), 0x100000}});
    REQUIRE(memory.ok());
    CHECK_FALSE(write_boot_structures(*memory).ok());
}

TEST_CASE("initial_registers for the Linux 64-bit entry", "[boot]") {
    kvm_regs registers{};
    registers.rax = 0x1234;  // must be cleared
    kvm_sregs special{};
    special.tr.type = 11;  // kept
    special.apic_base = 0xfee00900;
    initial_registers(BootSetup{EntryMode::Linux64, GuestAddress(0x100200), GuestAddress(0x7000)}, registers, special);

    CHECK(registers.rip == 0x100200);
    CHECK(registers.rsi == 0x7000);
    CHECK(registers.rsp == layout::kBootStack.value());
    CHECK(registers.rflags == 2);
    CHECK(registers.rax == 0);
    CHECK(special.cr0 == 0x80000011);  // PG | ET | PE
    CHECK(special.cr3 == layout::kPml4.value());
    CHECK(special.cr4 == 0x20);         // PAE
    CHECK(special.efer == 0x500);       // LMA | LME
    check_flat(special.cs, kCode64Selector);
    CHECK(special.cs.type == 11);
    CHECK(special.cs.l == 1);
    CHECK(special.cs.db == 0);
    check_data_segments(special);
    CHECK(special.gdt.base == layout::kGdt.value());
    CHECK(special.gdt.limit == 31);
    CHECK(special.idt.base == layout::kIdt.value());
    CHECK(special.tr.type == 11);
    CHECK(special.apic_base == 0xfee00900);
}

TEST_CASE("initial_registers for the PVH entry", "[boot]") {
    kvm_regs registers{};
    kvm_sregs special{};
    special.cr3 = 0x9000;
    special.efer = 0x500;
    initial_registers(BootSetup{EntryMode::Pvh32, GuestAddress(0x100040), GuestAddress(0x6000)}, registers, special);

    CHECK(registers.rip == 0x100040);
    CHECK(registers.rbx == 0x6000);
    CHECK(registers.rflags == 2);
    CHECK(special.cr0 == 0x11);  // ET | PE, paging off
    CHECK(special.cr3 == 0);
    CHECK(special.cr4 == 0);
    CHECK(special.efer == 0);
    check_flat(special.cs, kCode32Selector);
    CHECK(special.cs.type == 11);
    CHECK(special.cs.db == 1);
    CHECK(special.cs.l == 0);
    check_data_segments(special);
    CHECK(special.tr.base == 0);
    CHECK(special.tr.limit == 0x67);
    CHECK(special.tr.type == 11);  // busy 32-bit TSS
    CHECK(special.tr.present == 1);
    CHECK(special.tr.s == 0);
}
