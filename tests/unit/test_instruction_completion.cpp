#include "vmm/instruction_completion.h"
#include "vmm/instruction_decoder.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace {

using skiff::Completion;
using skiff::VcpuState;

constexpr uint64_t kRip = 0xffffffff81000000;
constexpr uint64_t kFlagCarry = 1 << 0;
constexpr uint64_t kFlagParity = 1 << 2;
constexpr uint64_t kFlagAdjust = 1 << 4;
constexpr uint64_t kFlagZero = 1 << 6;
constexpr uint64_t kFlagSign = 1 << 7;
constexpr uint64_t kFlagOverflow = 1 << 11;
constexpr uint64_t kFlagAlignmentCheck = 1 << 18;
constexpr uint64_t kArithmeticFlags =
    kFlagCarry | kFlagParity | kFlagAdjust | kFlagZero | kFlagSign | kFlagOverflow;

// Guest-virtual memory: one window of bytes at `base`; anything outside it
// fails, as an unmapped page would.
class FakeGuest final : public skiff::GuestAccess {
public:
    FakeGuest(uint64_t base, size_t size) : base_(base), bytes_(size) {}

    skiff::Result<void> read_virtual(uint64_t gva, std::span<std::byte> out) override {
        ++reads;
        if (!inside(gva, out.size())) {
            return skiff::Error::format("unmapped {:#x}", gva);
        }
        last_read = gva;
        std::memcpy(out.data(), bytes_.data() + (gva - base_), out.size());
        return {};
    }
    skiff::Result<void> write_virtual(uint64_t gva, std::span<const std::byte> in) override {
        ++writes;
        if (!inside(gva, in.size())) {
            return skiff::Error::format("unmapped {:#x}", gva);
        }
        std::memcpy(bytes_.data() + (gva - base_), in.data(), in.size());
        return {};
    }

    void put64(uint64_t gva, uint64_t value) { std::memcpy(bytes_.data() + (gva - base_), &value, 8); }
    uint64_t get64(uint64_t gva) const {
        uint64_t value = 0;
        std::memcpy(&value, bytes_.data() + (gva - base_), 8);
        return value;
    }

    int reads = 0;
    int writes = 0;
    uint64_t last_read = 0;

private:
    bool inside(uint64_t gva, size_t size) const {
        return gva >= base_ && size <= bytes_.size() && gva - base_ <= bytes_.size() - size;
    }
    uint64_t base_;
    std::vector<std::byte> bytes_;
};

constexpr uint64_t kData = 0xffff888000100000;

VcpuState long_mode() {
    VcpuState state{};
    state.regs.rip = kRip;
    state.regs.rflags = 0x2;
    state.sregs.efer = 0x500;  // LME | LMA
    state.sregs.cs.l = 1;
    state.sregs.cs.selector = 0x10;
    state.sregs.cr0 = 0x80050033;  // PG AM WP NE ET MP PE
    state.sregs.cr4 = 0x20;        // PAE
    return state;
}

// The bytes live in a vector of exactly their size, so a read past the end
// is visible to sanitizers and valgrind.
skiff::Result<Completion> run(const std::vector<uint8_t>& bytes, VcpuState& state, skiff::GuestAccess& access) {
    auto exact = std::make_unique<uint8_t[]>(bytes.size());
    std::copy(bytes.begin(), bytes.end(), exact.get());
    return skiff::complete_instruction(std::span<const uint8_t>(exact.get(), bytes.size()), state, access);
}

// The host CPU as the reference for popcnt: result and flags.
struct NativeResult {
    uint64_t value;
    uint64_t flags;
};

NativeResult native_popcnt(uint64_t source, uint64_t destination, int size) {
    uint64_t flags = 0;
    // pushfq below the red zone: the compiler may keep data there.
    if (size == 8) {
        asm("popcntq %[src], %[dst]\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %[flags]\n\tlea 128(%%rsp), %%rsp"
            : [dst] "+r"(destination), [flags] "=r"(flags)
            : [src] "r"(source)
            : "cc");
    } else if (size == 4) {
        asm("popcntl %k[src], %k[dst]\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %[flags]\n\tlea 128(%%rsp), %%rsp"
            : [dst] "+r"(destination), [flags] "=r"(flags)
            : [src] "r"(source)
            : "cc");
    } else {
        asm("popcntw %w[src], %w[dst]\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %[flags]\n\tlea 128(%%rsp), %%rsp"
            : [dst] "+r"(destination), [flags] "=r"(flags)
            : [src] "r"(source)
            : "cc");
    }
    return {destination, flags};
}

}  // namespace

TEST_CASE("int3 advances RIP and asks for #BP", "[x86]") {
    FakeGuest guest(kData, 64);
    VcpuState state = long_mode();
    auto result = run({0xCC}, state, guest);
    REQUIRE(result.ok());
    CHECK(result->kind == Completion::InjectException);
    CHECK(result->vector == 3);
    CHECK_FALSE(result->error_code.has_value());
    CHECK(result->mnemonic == "int3");
    CHECK(state.regs.rip == kRip + 1);

    // LOCK makes it #UD at the instruction; other prefixes are not claimed.
    state = long_mode();
    auto locked = run({0xF0, 0xCC}, state, guest);
    REQUIRE(locked.ok());
    CHECK(locked->kind == Completion::InjectException);
    CHECK(locked->vector == 6);
    CHECK(state.regs.rip == kRip);
    CHECK_FALSE(run({0x66, 0xCC}, state, guest).ok());
    CHECK(state.regs.rip == kRip);
}

TEST_CASE("clac and stac edit RFLAGS.AC at CPL 0 only", "[x86]") {
    FakeGuest guest(kData, 64);
    VcpuState state = long_mode();
    auto stac = run({0x0F, 0x01, 0xCB}, state, guest);
    REQUIRE(stac.ok());
    CHECK(stac->kind == Completion::Completed);
    CHECK(stac->mnemonic == "stac");
    CHECK((state.regs.rflags & kFlagAlignmentCheck) != 0);
    CHECK(state.regs.rip == kRip + 3);
    auto clac = run({0x0F, 0x01, 0xCA}, state, guest);
    REQUIRE(clac.ok());
    CHECK((state.regs.rflags & kFlagAlignmentCheck) == 0);
    CHECK(state.regs.rflags == 0x2);
    CHECK(state.regs.rip == kRip + 6);

    VcpuState user = long_mode();
    user.sregs.cs.selector = 0x33;
    auto refused = run({0x0F, 0x01, 0xCA}, user, guest);
    REQUIRE(refused.ok());
    CHECK(refused->kind == Completion::InjectException);
    CHECK(refused->vector == 6);
    CHECK(user.regs.rip == kRip);

    CHECK(run({0xF0, 0x0F, 0x01, 0xCB}, state, guest)->vector == 6);
    CHECK_FALSE(run({0x0F, 0x01, 0xCC}, state, guest).ok());
    CHECK_FALSE(run({0x0F, 0x01}, state, guest).ok());
}

TEST_CASE("popcnt register forms match the host CPU", "[x86]") {
    FakeGuest guest(kData, 64);
    std::mt19937_64 random(1234);
    struct Form {
        std::vector<uint8_t> bytes;
        int size;
        uint8_t destination;
        uint8_t source;
    };
    const std::vector<Form> forms = {
        {{0xF3, 0x48, 0x0F, 0xB8, 0xC1}, 8, 0, 1},        // popcnt rax, rcx
        {{0xF3, 0x0F, 0xB8, 0xC1}, 4, 0, 1},              // popcnt eax, ecx
        {{0x66, 0xF3, 0x0F, 0xB8, 0xC1}, 2, 0, 1},        // popcnt ax, cx
        {{0xF3, 0x66, 0x0F, 0xB8, 0xC1}, 2, 0, 1},        // prefixes in either order
        {{0xF3, 0x4D, 0x0F, 0xB8, 0xC8}, 8, 9, 8},        // popcnt r9, r8
        {{0xF3, 0x44, 0x0F, 0xB8, 0xFB}, 4, 15, 3},       // popcnt r15d, ebx
        {{0xF3, 0x48, 0x66, 0x0F, 0xB8, 0xC1}, 2, 0, 1},  // REX not before the opcode: ignored
    };
    for (const Form& form : forms) {
        for (int round = 0; round < 200; ++round) {
            uint64_t source = random();
            if (round % 7 == 0) {
                source = 0;
            } else if (round % 5 == 0) {
                source &= 0xFFFF0000FFFF0000ULL;  // zero low halves
            }
            uint64_t destination = random();
            VcpuState state = long_mode();
            state.regs.rflags = 0x2 | kArithmeticFlags;
            skiff::x86::general_register(state.regs, form.destination) = destination;
            skiff::x86::general_register(state.regs, form.source) = source;
            auto result = run(form.bytes, state, guest);
            REQUIRE(result.ok());
            CHECK(result->kind == Completion::Completed);
            CHECK(result->mnemonic == "popcnt");
            CHECK(state.regs.rip == kRip + form.bytes.size());
            NativeResult expected = native_popcnt(source, destination, form.size);
            INFO("size " << form.size << " source " << source);
            CHECK(skiff::x86::general_register(state.regs, form.destination) == expected.value);
            CHECK((state.regs.rflags & kArithmeticFlags) == (expected.flags & kArithmeticFlags));
        }
    }
}

TEST_CASE("popcnt memory forms address as the processor does", "[x86]") {
    FakeGuest guest(kData, 0x1000);
    VcpuState base = long_mode();

    SECTION("[rsi]") {
        guest.put64(kData + 0x100, 0xFF00FF00FF00FF00ULL);
        base.regs.rsi = kData + 0x100;
        auto result = run({0xF3, 0x48, 0x0F, 0xB8, 0x06}, base, guest);
        REQUIRE(result.ok());
        CHECK(base.regs.rax == 32);
        CHECK(guest.last_read == kData + 0x100);
        CHECK(base.regs.rip == kRip + 5);
    }
    SECTION("[rbx + disp8], 32-bit read") {
        guest.put64(kData + 0x210, 0xFFFFFFFF00000007ULL);
        base.regs.rbx = kData + 0x200;
        base.regs.rax = ~0ULL;
        auto result = run({0xF3, 0x0F, 0xB8, 0x43, 0x10}, base, guest);
        REQUIRE(result.ok());
        CHECK(base.regs.rax == 3);  // 4 bytes read, upper half zeroed
    }
    SECTION("[rbx + rcx*4 + disp32] and negative displacement") {
        guest.put64(kData + 0x300, 0xF);
        base.regs.rbx = kData + 0x400;
        base.regs.rcx = 0x10;  // +0x40
        // popcnt rdx, [rbx + rcx*4 - 0x140]
        auto result = run({0xF3, 0x48, 0x0F, 0xB8, 0x94, 0x8B, 0xC0, 0xFE, 0xFF, 0xFF}, base, guest);
        REQUIRE(result.ok());
        CHECK(guest.last_read == kData + 0x300);
        CHECK(base.regs.rdx == 4);
        CHECK(base.regs.rip == kRip + 10);
    }
    SECTION("RIP-relative is relative to the next instruction") {
        VcpuState state = long_mode();
        state.regs.rip = kData + 0x20;
        guest.put64(kData + 0x20 + 9 + 0x100, 0x3F);
        auto result = run({0xF3, 0x48, 0x0F, 0xB8, 0x05, 0x00, 0x01, 0x00, 0x00}, state, guest);
        REQUIRE(result.ok());
        CHECK(guest.last_read == kData + 0x129);
        CHECK(state.regs.rax == 6);
    }
    SECTION("GS override adds the GS base; [disp32] through SIB") {
        base.sregs.gs.base = kData + 0x800;
        guest.put64(kData + 0x828, 0x1);
        auto result = run({0x65, 0xF3, 0x48, 0x0F, 0xB8, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00}, base, guest);
        REQUIRE(result.ok());
        CHECK(guest.last_read == kData + 0x828);
        CHECK(base.regs.rax == 1);
        CHECK(base.regs.rip == kRip + 11);
    }
    SECTION("FS override; DS and SS overrides have no base") {
        base.sregs.fs.base = kData + 0x800;
        base.sregs.ds.base = 0x5000;  // ignored in 64-bit mode
        base.regs.rsi = 0x10;
        guest.put64(kData + 0x810, 0x3);
        REQUIRE(run({0x64, 0xF3, 0x48, 0x0F, 0xB8, 0x06}, base, guest).ok());
        CHECK(base.regs.rax == 2);
        VcpuState state = long_mode();
        state.sregs.ds.base = 0x5000;
        state.regs.rsi = kData + 0x810;
        REQUIRE(run({0x3E, 0xF3, 0x48, 0x0F, 0xB8, 0x06}, state, guest).ok());
        CHECK(guest.last_read == kData + 0x810);
    }
    SECTION("r12 base needs a SIB byte; r13 base with mod 00 is RIP-relative") {
        base.regs.r12 = kData + 0x500;
        guest.put64(kData + 0x500, 0x7);
        REQUIRE(run({0xF3, 0x49, 0x0F, 0xB8, 0x04, 0x24}, base, guest).ok());
        CHECK(base.regs.rax == 3);
        VcpuState state = long_mode();
        state.regs.rip = kData;
        state.regs.r13 = 0xdead;  // not used
        guest.put64(kData + 9 + 0x40, 0xF0);
        REQUIRE(run({0xF3, 0x49, 0x0F, 0xB8, 0x05, 0x40, 0x00, 0x00, 0x00}, state, guest).ok());
        CHECK(guest.last_read == kData + 0x49);
        CHECK(state.regs.rax == 4);
    }
    SECTION("index r12 through REX.X, scale 8") {
        base.regs.rbx = kData;
        base.regs.r12 = 0x20;  // +0x100
        guest.put64(kData + 0x100, 0x3);
        REQUIRE(run({0xF3, 0x4E, 0x0F, 0xB8, 0x3C, 0xE3}, base, guest).ok());  // popcnt r15, [rbx + r12*8]
        CHECK(base.regs.r15 == 2);
    }
    SECTION("0x67 truncates the effective address to 32 bits") {
        base.sregs.gs.base = kData;
        base.regs.rax = 0xFFFFFFFF00000040ULL;
        guest.put64(kData + 0x40, 0xFF);
        REQUIRE(run({0x65, 0x67, 0xF3, 0x48, 0x0F, 0xB8, 0x00}, base, guest).ok());
        CHECK(guest.last_read == kData + 0x40);
        CHECK(base.regs.rax == 8);
    }
}

TEST_CASE("popcnt faults and refusals", "[x86]") {
    FakeGuest guest(kData, 0x100);
    VcpuState state = long_mode();

    state.regs.rsi = 0x0000800000000000ULL;  // non-canonical
    auto general = run({0xF3, 0x48, 0x0F, 0xB8, 0x06}, state, guest);
    REQUIRE(general.ok());
    CHECK(general->kind == Completion::InjectException);
    CHECK(general->vector == 13);
    CHECK(general->error_code == 0U);
    CHECK(state.regs.rip == kRip);

    state.regs.rsp = 0x0000800000000000ULL;  // through RSP: #SS
    auto stack = run({0xF3, 0x48, 0x0F, 0xB8, 0x44, 0x24, 0x08}, state, guest);
    REQUIRE(stack.ok());
    CHECK(stack->vector == 12);

    state.sregs.cr4 |= 1 << 12;  // LA57: the same address is canonical, so it is read (and unmapped)
    CHECK_FALSE(run({0xF3, 0x48, 0x0F, 0xB8, 0x06}, state, guest).ok());

    VcpuState locked = long_mode();
    CHECK(run({0xF0, 0xF3, 0x0F, 0xB8, 0xC1}, locked, guest)->vector == 6);
    CHECK_FALSE(run({0x0F, 0xB8, 0xC1}, locked, guest).ok());        // no F3: jmpe
    CHECK_FALSE(run({0xF2, 0xF3, 0x0F, 0xB8, 0xC1}, locked, guest).ok());

    // An unreadable operand is an error and leaves the registers alone.
    VcpuState unmapped = long_mode();
    unmapped.regs.rsi = 0x1000;
    unmapped.regs.rax = 0x1234;
    auto failed = run({0xF3, 0x48, 0x0F, 0xB8, 0x06}, unmapped, guest);
    REQUIRE_FALSE(failed.ok());
    CHECK_THAT(failed.error().message, Catch::Contains("reading 8 bytes at 0x1000"));
    CHECK(unmapped.regs.rax == 0x1234);
    CHECK(unmapped.regs.rip == kRip);
}

TEST_CASE("cmpxchg16b compares RDX:RAX and stores RCX:RBX", "[x86]") {
    FakeGuest guest(kData, 0x100);
    VcpuState state = long_mode();
    state.regs.rsi = kData + 0x40;
    guest.put64(kData + 0x40, 0x1111);
    guest.put64(kData + 0x48, 0x2222);
    state.regs.rax = 0x1111;
    state.regs.rdx = 0x2222;
    state.regs.rbx = 0xAAAA;
    state.regs.rcx = 0xBBBB;

    auto equal = run({0xF0, 0x48, 0x0F, 0xC7, 0x0E}, state, guest);  // lock cmpxchg16b [rsi]
    REQUIRE(equal.ok());
    CHECK(equal->kind == Completion::Completed);
    CHECK(equal->mnemonic == "cmpxchg16b");
    CHECK(guest.get64(kData + 0x40) == 0xAAAA);
    CHECK(guest.get64(kData + 0x48) == 0xBBBB);
    CHECK((state.regs.rflags & kFlagZero) != 0);
    CHECK(state.regs.rax == 0x1111);
    CHECK(state.regs.rdx == 0x2222);
    CHECK(state.regs.rip == kRip + 5);

    // Now memory holds RCX:RBX's old values, not RDX:RAX: the compare fails.
    state.regs.rbx = 0x5555;
    state.regs.rflags |= kFlagCarry;
    auto differ = run({0x48, 0x0F, 0xC7, 0x0E}, state, guest);
    REQUIRE(differ.ok());
    CHECK((state.regs.rflags & kFlagZero) == 0);
    CHECK((state.regs.rflags & kFlagCarry) != 0);  // only ZF changes
    CHECK(state.regs.rax == 0xAAAA);
    CHECK(state.regs.rdx == 0xBBBB);
    CHECK(guest.get64(kData + 0x40) == 0xAAAA);

    // RIP-relative operand.
    VcpuState relative = long_mode();
    relative.regs.rip = kData;
    guest.put64(kData + 0x50, 7);
    guest.put64(kData + 0x58, 8);
    relative.regs.rax = 7;
    relative.regs.rdx = 8;
    relative.regs.rbx = 9;
    REQUIRE(run({0x48, 0x0F, 0xC7, 0x0D, 0x48, 0x00, 0x00, 0x00}, relative, guest).ok());
    CHECK(guest.get64(kData + 0x50) == 9);
}

TEST_CASE("cmpxchg16b faults: misaligned, register operand, other /digits refused", "[x86]") {
    FakeGuest guest(kData, 0x100);
    VcpuState state = long_mode();
    state.regs.rsi = kData + 0x48;
    auto misaligned = run({0xF0, 0x48, 0x0F, 0xC7, 0x0E}, state, guest);
    REQUIRE(misaligned.ok());
    CHECK(misaligned->kind == Completion::InjectException);
    CHECK(misaligned->vector == 13);
    CHECK(misaligned->error_code == 0U);
    CHECK(state.regs.rip == kRip);
    CHECK(guest.reads == 0);

    auto register_form = run({0x48, 0x0F, 0xC7, 0xC8}, state, guest);
    REQUIRE(register_form.ok());
    CHECK(register_form->vector == 6);

    CHECK_FALSE(run({0x48, 0x0F, 0xC7, 0x36}, state, guest).ok());  // /6
    CHECK_FALSE(run({0x66, 0x0F, 0xC7, 0x0E}, state, guest).ok());
    CHECK_FALSE(run({0xF3, 0x0F, 0xC7, 0x0E}, state, guest).ok());  // F3 without LOCK
}

TEST_CASE("cmpxchg8b works on EDX:EAX and zero-extends on failure", "[x86]") {
    FakeGuest guest(kData, 0x100);
    VcpuState state = long_mode();
    state.regs.rdi = kData + 0x13;  // cmpxchg8b needs no alignment
    guest.put64(kData + 0x13, 0x0000000200000001ULL);
    state.regs.rax = 0xFFFFFFFF00000001ULL;  // upper halves ignored by the compare
    state.regs.rdx = 0xFFFFFFFF00000002ULL;
    state.regs.rbx = 0x12345678;
    state.regs.rcx = 0x9ABCDEF0;
    auto equal = run({0xF2, 0xF0, 0x0F, 0xC7, 0x0F}, state, guest);  // xacquire lock cmpxchg8b [rdi]
    REQUIRE(equal.ok());
    CHECK(equal->mnemonic == "cmpxchg8b");
    CHECK(guest.get64(kData + 0x13) == 0x9ABCDEF012345678ULL);
    CHECK((state.regs.rflags & kFlagZero) != 0);
    CHECK(state.regs.rax == 0xFFFFFFFF00000001ULL);  // untouched on success

    auto differ = run({0x0F, 0xC7, 0x0F}, state, guest);
    REQUIRE(differ.ok());
    CHECK((state.regs.rflags & kFlagZero) == 0);
    CHECK(state.regs.rax == 0x12345678);
    CHECK(state.regs.rdx == 0x9ABCDEF0);
    CHECK(state.regs.rip == kRip + 8);
}

TEST_CASE("fnclex and fclex clear the x87 exception flags through finish_fpu_completion", "[x86]") {
    FakeGuest guest(kData, 64);
    kvm_fpu fpu{};

    VcpuState state = long_mode();
    auto fnclex = run({0xDB, 0xE2}, state, guest);
    REQUIRE(fnclex.ok());
    CHECK(fnclex->kind == Completion::ClearFpuExceptions);
    CHECK_FALSE(fnclex->waits);
    CHECK(state.regs.rip == kRip + 2);
    fpu.fsw = 0xB8FF;  // B, TOP = 7, ES, SF, every exception flag
    Completion done = skiff::finish_fpu_completion(*fnclex, state, fpu);
    CHECK(done.kind == Completion::Completed);
    CHECK(fpu.fsw == 0x3800);  // TOP kept
    CHECK(state.regs.rip == kRip + 2);

    // CR0.TS: #NM at the instruction, FPU untouched.
    VcpuState switched = long_mode();
    switched.sregs.cr0 |= 1 << 3;
    auto again = run({0xDB, 0xE2}, switched, guest);
    REQUIRE(again.ok());
    fpu.fsw = 0x00FF;
    Completion device = skiff::finish_fpu_completion(*again, switched, fpu);
    CHECK(device.kind == Completion::InjectException);
    CHECK(device.vector == 7);
    CHECK(switched.regs.rip == kRip);
    CHECK(fpu.fsw == 0x00FF);

    SECTION("fclex with an unmasked exception pending: #MF at the fwait") {
        VcpuState waiting = long_mode();
        auto fclex = run({0x9B, 0xDB, 0xE2}, waiting, guest);
        REQUIRE(fclex.ok());
        CHECK(fclex->waits);
        CHECK(fclex->mnemonic == "fclex");
        CHECK(waiting.regs.rip == kRip + 3);
        fpu.fsw = 0x0081;
        Completion pending = skiff::finish_fpu_completion(*fclex, waiting, fpu);
        CHECK(pending.vector == 16);
        CHECK(waiting.regs.rip == kRip);
        fpu.fsw = 0x0001;  // masked: no ES
        waiting.regs.rip = kRip + 3;
        CHECK(skiff::finish_fpu_completion(*fclex, waiting, fpu).kind == Completion::Completed);
        CHECK(fpu.fsw == 0);
    }
    SECTION("fclex with CR0.TS: #NM at the fwait with MP, at the fnclex without") {
        VcpuState waiting = long_mode();
        waiting.sregs.cr0 |= 1 << 3;
        fpu.fsw = 0;
        auto fclex = run({0x9B, 0xDB, 0xE2}, waiting, guest);
        REQUIRE(fclex.ok());
        CHECK(skiff::finish_fpu_completion(*fclex, waiting, fpu).vector == 7);
        CHECK(waiting.regs.rip == kRip);
        waiting.sregs.cr0 &= ~uint64_t{1 << 1};
        waiting.regs.rip = kRip + 3;
        CHECK(skiff::finish_fpu_completion(*fclex, waiting, fpu).vector == 7);
        CHECK(waiting.regs.rip == kRip + 1);
    }
    CHECK_FALSE(run({0x9B, 0xDB}, state, guest).ok());
    CHECK_FALSE(run({0x9B, 0xDB, 0xE3}, state, guest).ok());  // fninit
    CHECK_FALSE(run({0xDB, 0xE3}, state, guest).ok());
    CHECK(run({0xF0, 0xDB, 0xE2}, state, guest)->vector == 6);
}

TEST_CASE("emms empties the x87 tags through finish_fpu_completion", "[x86]") {
    FakeGuest guest(kData, 64);
    kvm_fpu fpu{};
    fpu.ftwx = 0xFF;
    VcpuState state = long_mode();
    auto emms = run({0x0F, 0x77}, state, guest);
    REQUIRE(emms.ok());
    CHECK(emms->kind == Completion::EmptyFpuTags);
    CHECK(emms->mnemonic == "emms");
    CHECK(state.regs.rip == kRip + 2);
    CHECK(skiff::finish_fpu_completion(*emms, state, fpu).kind == Completion::Completed);
    CHECK(fpu.ftwx == 0);

    struct Case {
        uint64_t cr0_bits;
        uint16_t fsw;
        uint8_t vector;
    };
    for (Case fault : {Case{1 << 2, 0, 6}, Case{1 << 3, 0, 7}, Case{0, 0x0080, 16}}) {
        VcpuState faulting = long_mode();
        faulting.sregs.cr0 |= fault.cr0_bits;
        fpu.ftwx = 0x0F;
        fpu.fsw = fault.fsw;
        auto decoded = run({0x0F, 0x77}, faulting, guest);
        REQUIRE(decoded.ok());
        Completion result = skiff::finish_fpu_completion(*decoded, faulting, fpu);
        CHECK(result.kind == Completion::InjectException);
        CHECK(result.vector == fault.vector);
        CHECK(faulting.regs.rip == kRip);
        CHECK(fpu.ftwx == 0x0F);
    }
    // Other kinds pass through untouched.
    Completion plain;
    plain.kind = Completion::Completed;
    fpu.ftwx = 0x0F;
    CHECK(skiff::finish_fpu_completion(plain, state, fpu).kind == Completion::Completed);
    CHECK(fpu.ftwx == 0x0F);
}

TEST_CASE("unknown instructions, other modes and truncated bytes are errors naming RIP and bytes", "[x86]") {
    FakeGuest guest(kData, 64);
    VcpuState state = long_mode();
    auto ud2 = run({0x0F, 0x0B}, state, guest);
    REQUIRE_FALSE(ud2.ok());
    CHECK_THAT(ud2.error().message, Catch::StartsWith("cannot complete instruction at rip 0xffffffff81000000: 0f 0b"));

    auto xrstor = run({0x0F, 0xAE, 0x2F}, state, guest);
    REQUIRE_FALSE(xrstor.ok());
    CHECK_THAT(xrstor.error().message, Catch::Contains("0f ae 2f"));

    VcpuState compatibility = long_mode();
    compatibility.sregs.cs.l = 0;
    auto mode = run({0xCC}, compatibility, guest);
    REQUIRE_FALSE(mode.ok());
    CHECK_THAT(mode.error().message, Catch::Contains("64-bit mode"));
    VcpuState real_mode{};
    CHECK_FALSE(run({0xCC}, real_mode, guest).ok());

    CHECK_FALSE(run({}, state, guest).ok());

    // Every proper prefix of valid instructions is refused, without reading
    // past it (the buffers are exactly sized) and without touching state.
    const std::vector<std::vector<uint8_t>> valid = {
        {0x65, 0xF3, 0x48, 0x0F, 0xB8, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00},
        {0xF3, 0x48, 0x0F, 0xB8, 0x94, 0x8B, 0x78, 0x56, 0x34, 0x12},
        {0xF3, 0x48, 0x0F, 0xB8, 0x05, 0x00, 0x01, 0x00, 0x00},
        {0xF3, 0x48, 0x0F, 0xB8, 0x43, 0x10},
        {0xF0, 0x48, 0x0F, 0xC7, 0x0E},
        {0x0F, 0x01, 0xCA},
        {0x9B, 0xDB, 0xE2},
    };
    for (const auto& bytes : valid) {
        for (size_t length = 0; length < bytes.size(); ++length) {
            VcpuState before = long_mode();
            VcpuState after = before;
            std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + static_cast<long>(length));
            auto result = run(truncated, after, guest);
            INFO("length " << length << " of " << bytes.size());
            CHECK_FALSE(result.ok());
            CHECK(after.regs.rip == before.regs.rip);
            CHECK(after.regs.rflags == before.regs.rflags);
        }
    }

    // Fifteen prefixes leave no room for an opcode.
    std::vector<uint8_t> prefixes(15, 0x66);
    prefixes.push_back(0xCC);
    auto too_long = run(prefixes, state, guest);
    REQUIRE_FALSE(too_long.ok());
    CHECK_THAT(too_long.error().message, Catch::Contains("longer than 15 bytes"));
}

TEST_CASE("random bytes never crash the completer nor change state on error", "[x86]") {
    FakeGuest guest(kData, 0x1000);
    std::mt19937 random(42);
    const uint8_t interesting[] = {0x0F, 0xB8, 0xC7, 0x01, 0xCA, 0xCB, 0xCC, 0xDB, 0xE2, 0x9B, 0x77, 0xF0, 0xF2,
                                   0xF3, 0x66, 0x67, 0x64, 0x65, 0x48, 0x4F, 0x04, 0x05, 0x0E, 0x25, 0x44};
    int completed = 0;
    for (int round = 0; round < 100000; ++round) {
        std::vector<uint8_t> bytes(random() % 18);
        for (uint8_t& byte : bytes) {
            byte = random() % 2 ? interesting[random() % sizeof(interesting)] : static_cast<uint8_t>(random());
        }
        VcpuState state = long_mode();
        for (uint8_t number = 0; number < 16; ++number) {
            skiff::x86::general_register(state.regs, number) = kData + (random() % 0x1000);
        }
        state.sregs.gs.base = random() % 2 ? 0 : kData;
        VcpuState before = state;
        auto result = run(bytes, state, guest);
        if (!result.ok()) {
            REQUIRE(std::memcmp(&state.regs, &before.regs, sizeof(kvm_regs)) == 0);
            continue;
        }
        ++completed;
        uint64_t advanced = state.regs.rip - before.regs.rip;
        REQUIRE(advanced <= std::min<size_t>(bytes.size(), 15));
        if (result->kind == Completion::InjectException && result->vector != 3) {
            REQUIRE(advanced == 0);
        }
    }
    CHECK(completed > 100);  // the generator does reach the completions
}

TEST_CASE("decoder: prefixes and ModRM corner cases", "[x86]") {
    const uint8_t rex_then_legacy[] = {0x48, 0x66, 0x0F};
    auto prefixes = skiff::x86::decode_prefixes(rex_then_legacy);
    REQUIRE(prefixes.ok());
    CHECK(prefixes->rex == 0);
    CHECK(prefixes->operand_size);
    CHECK(prefixes->length == 2);

    const uint8_t segments[] = {0x64, 0x65, 0x41, 0x0F};
    auto last = skiff::x86::decode_prefixes(segments);
    REQUIRE(last.ok());
    CHECK(last->segment == skiff::x86::Segment::Gs);
    CHECK(last->rex_b());

    const uint8_t only_prefixes[] = {0xF3, 0x48};
    CHECK_FALSE(skiff::x86::decode_prefixes(only_prefixes).ok());

    // SIB with base = 101 and mod = 00 under REX.B: no base, disp32.
    skiff::x86::Prefixes rex_b;
    rex_b.rex = 0x41;
    const uint8_t sib_no_base[] = {0x04, 0x25, 0x10, 0x00, 0x00, 0x00};
    auto modrm = skiff::x86::decode_modrm(sib_no_base, 0, rex_b);
    REQUIRE(modrm.ok());
    CHECK_FALSE(modrm->base.has_value());
    CHECK_FALSE(modrm->index.has_value());
    CHECK(modrm->displacement == 0x10);
    CHECK(modrm->length == 6);

    const uint8_t disp8_negative[] = {0x45, 0xF8};  // [rbp - 8] / [r13 - 8]
    auto negative = skiff::x86::decode_modrm(disp8_negative, 0, rex_b);
    REQUIRE(negative.ok());
    CHECK(negative->base == 13);
    CHECK(negative->displacement == -8);

    kvm_regs regs{};
    regs.rbp = 0x1000;
    kvm_sregs sregs{};
    auto rbp = skiff::x86::decode_modrm(disp8_negative, 0, skiff::x86::Prefixes{});
    REQUIRE(rbp.ok());
    auto address = skiff::x86::memory_address(*rbp, skiff::x86::Prefixes{}, regs, sregs, 0);
    CHECK(address.linear == 0xFF8);
    CHECK(address.stack_segment);
    CHECK_FALSE(skiff::x86::memory_address(*negative, rex_b, regs, sregs, 0).stack_segment);  // r13

    CHECK(skiff::x86::is_canonical(0x00007FFFFFFFFFFFULL, sregs));
    CHECK(skiff::x86::is_canonical(0xFFFF800000000000ULL, sregs));
    CHECK_FALSE(skiff::x86::is_canonical(0x0000800000000000ULL, sregs));
    sregs.cr4 = 1 << 12;
    CHECK(skiff::x86::is_canonical(0x0000800000000000ULL, sregs));
    CHECK_FALSE(skiff::x86::is_canonical(0x0100000000000000ULL, sregs));
}

TEST_CASE("compare-exchange helpers: default and host-atomic", "[x86]") {
    FakeGuest guest(kData, 64);
    guest.put64(kData, 5);
    std::array<std::byte, 8> expected{};
    std::array<std::byte, 8> desired{};
    expected[0] = std::byte{5};
    desired[0] = std::byte{6};
    auto swapped = guest.compare_exchange_virtual(kData, expected, desired);
    REQUIRE(swapped.ok());
    CHECK(*swapped);
    CHECK(guest.get64(kData) == 6);
    auto refused = guest.compare_exchange_virtual(kData, expected, desired);
    REQUIRE(refused.ok());
    CHECK_FALSE(*refused);
    CHECK(expected[0] == std::byte{6});
    std::array<std::byte, 4> small{};
    CHECK_FALSE(guest.compare_exchange_virtual(kData, small, small).ok());

    alignas(16) std::array<std::byte, 32> host{};
    host[0] = std::byte{1};
    host[8] = std::byte{2};
    std::array<std::byte, 16> wide_expected{};
    std::array<std::byte, 16> wide_desired{};
    wide_expected[0] = std::byte{1};
    wide_expected[8] = std::byte{2};
    wide_desired[0] = std::byte{3};
    wide_desired[15] = std::byte{4};
    auto wide = skiff::host_compare_exchange(host.data(), wide_expected, wide_desired);
    REQUIRE(wide.ok());
    CHECK(*wide);
    CHECK(host[0] == std::byte{3});
    CHECK(host[8] == std::byte{0});
    CHECK(host[15] == std::byte{4});
    auto wide_again = skiff::host_compare_exchange(host.data(), wide_expected, wide_desired);
    REQUIRE(wide_again.ok());
    CHECK_FALSE(*wide_again);
    CHECK(wide_expected[0] == std::byte{3});
    CHECK(wide_expected[15] == std::byte{4});

    auto narrow = skiff::host_compare_exchange(host.data() + 16, expected, desired);
    REQUIRE(narrow.ok());
    CHECK_FALSE(*narrow);  // host holds 0, expected holds 6
    CHECK(expected[0] == std::byte{0});
    CHECK(*skiff::host_compare_exchange(host.data() + 16, expected, desired));
    CHECK(host[16] == std::byte{6});

    CHECK_FALSE(skiff::host_compare_exchange(host.data() + 8, wide_expected, wide_desired).ok());
    CHECK_FALSE(skiff::host_compare_exchange(host.data() + 4, expected, desired).ok());
}
