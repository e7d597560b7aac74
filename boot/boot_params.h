// The Linux x86 zero page (`struct boot_params`) and the setup header it
// embeds, written from Linux Documentation/arch/x86/boot.rst and
// zero-page.rst. Only the fields skiff reads or fills have names; the
// static_asserts pin their offsets to the documented ones.
#pragma once

#include <cstddef>
#include <cstdint>

namespace skiff::boot::linux_boot {

inline constexpr uint64_t kSetupHeaderOffset = 0x1f1;   // in the image and in the zero page
inline constexpr uint32_t kHeaderMagic = 0x53726448;    // "HdrS"
inline constexpr uint16_t kBootFlag = 0xaa55;
inline constexpr uint64_t kSectorSize = 512;
inline constexpr uint8_t kDefaultSetupSects = 4;        // when setup_sects is 0
inline constexpr uint64_t kEntry64Offset = 0x200;       // 64-bit entry from the protected-mode start
inline constexpr uint16_t kMinimumVersion = 0x020c;     // 2.12: xloadflags, 64-bit entry
inline constexpr uint16_t kCurrentVersion = 0x020f;     // 2.15, for the zero page of ELF kernels

// loadflags
inline constexpr uint8_t kLoadedHigh = 0x01;
inline constexpr uint8_t kCanUseHeap = 0x80;
// xloadflags
inline constexpr uint16_t kXlfKernel64 = 0x0001;
inline constexpr uint8_t kUndefinedLoader = 0xff;       // type_of_loader

struct [[gnu::packed]] SetupHeader {
    uint8_t setup_sects;
    uint16_t root_flags;
    uint32_t syssize;
    uint16_t ram_size;
    uint16_t vid_mode;
    uint16_t root_dev;
    uint16_t boot_flag;
    uint16_t jump;
    uint32_t header;
    uint16_t version;
    uint32_t realmode_swtch;
    uint16_t start_sys_seg;
    uint16_t kernel_version;
    uint8_t type_of_loader;
    uint8_t loadflags;
    uint16_t setup_move_size;
    uint32_t code32_start;
    uint32_t ramdisk_image;
    uint32_t ramdisk_size;
    uint32_t bootsect_kludge;
    uint16_t heap_end_ptr;
    uint8_t ext_loader_ver;
    uint8_t ext_loader_type;
    uint32_t cmd_line_ptr;
    uint32_t initrd_addr_max;
    uint32_t kernel_alignment;
    uint8_t relocatable_kernel;
    uint8_t min_alignment;
    uint16_t xloadflags;
    uint32_t cmdline_size;
    uint32_t hardware_subarch;
    uint64_t hardware_subarch_data;
    uint32_t payload_offset;
    uint32_t payload_length;
    uint64_t setup_data;
    uint64_t pref_address;
    uint32_t init_size;
    uint32_t handover_offset;
    uint32_t kernel_info_offset;
};

// Offsets as boot.rst lists them (from the start of the image / zero page).
#define SKIFF_SETUP_OFFSET(field) (kSetupHeaderOffset + offsetof(SetupHeader, field))
static_assert(SKIFF_SETUP_OFFSET(setup_sects) == 0x1f1);
static_assert(SKIFF_SETUP_OFFSET(syssize) == 0x1f4);
static_assert(SKIFF_SETUP_OFFSET(boot_flag) == 0x1fe);
static_assert(SKIFF_SETUP_OFFSET(jump) == 0x200);
static_assert(SKIFF_SETUP_OFFSET(header) == 0x202);
static_assert(SKIFF_SETUP_OFFSET(version) == 0x206);
static_assert(SKIFF_SETUP_OFFSET(type_of_loader) == 0x210);
static_assert(SKIFF_SETUP_OFFSET(loadflags) == 0x211);
static_assert(SKIFF_SETUP_OFFSET(code32_start) == 0x214);
static_assert(SKIFF_SETUP_OFFSET(ramdisk_image) == 0x218);
static_assert(SKIFF_SETUP_OFFSET(ramdisk_size) == 0x21c);
static_assert(SKIFF_SETUP_OFFSET(heap_end_ptr) == 0x224);
static_assert(SKIFF_SETUP_OFFSET(cmd_line_ptr) == 0x228);
static_assert(SKIFF_SETUP_OFFSET(initrd_addr_max) == 0x22c);
static_assert(SKIFF_SETUP_OFFSET(kernel_alignment) == 0x230);
static_assert(SKIFF_SETUP_OFFSET(relocatable_kernel) == 0x234);
static_assert(SKIFF_SETUP_OFFSET(xloadflags) == 0x236);
static_assert(SKIFF_SETUP_OFFSET(cmdline_size) == 0x238);
static_assert(SKIFF_SETUP_OFFSET(payload_offset) == 0x248);
static_assert(SKIFF_SETUP_OFFSET(setup_data) == 0x250);
static_assert(SKIFF_SETUP_OFFSET(pref_address) == 0x258);
static_assert(SKIFF_SETUP_OFFSET(init_size) == 0x260);
static_assert(SKIFF_SETUP_OFFSET(kernel_info_offset) == 0x268);
static_assert(kSetupHeaderOffset + sizeof(SetupHeader) == 0x26c);
#undef SKIFF_SETUP_OFFSET

// e820 types (zero-page.rst; the same numbers as the ACPI address map).
inline constexpr uint32_t kE820Ram = 1;
inline constexpr uint32_t kE820Reserved = 2;
inline constexpr size_t kE820MaxEntries = 128;

struct [[gnu::packed]] E820Entry {
    uint64_t address;
    uint64_t size;
    uint32_t type;
};
static_assert(sizeof(E820Entry) == 20);

struct [[gnu::packed]] BootParams {
    uint8_t screen_info[0x40];
    uint8_t apm_bios_info[0x14];
    uint8_t pad2[4];
    uint64_t tboot_address;
    uint8_t ist_info[0x10];
    uint64_t acpi_rsdp_address;
    uint8_t pad3[8];
    uint8_t hd0_info[16];
    uint8_t hd1_info[16];
    uint8_t sys_desc_table[16];
    uint8_t olpc_ofw_header[16];
    uint32_t ext_ramdisk_image;
    uint32_t ext_ramdisk_size;
    uint32_t ext_cmd_line_ptr;
    uint8_t pad4[0x13c - 0xcc];
    uint32_t cc_blob_address;
    uint8_t edid_info[0x80];
    uint8_t efi_info[0x20];
    uint32_t alt_mem_k;
    uint32_t scratch;
    uint8_t e820_entries;
    uint8_t eddbuf_entries;
    uint8_t edd_mbr_sig_buf_entries;
    uint8_t kbd_status;
    uint8_t secure_boot;
    uint8_t pad5[2];
    uint8_t sentinel;  // must stay 0: a nonzero value makes the kernel distrust the page
    uint8_t pad6[1];
    SetupHeader hdr;
    uint8_t pad7[0x290 - 0x1f1 - sizeof(SetupHeader)];
    uint32_t edd_mbr_sig_buffer[16];
    E820Entry e820_table[kE820MaxEntries];
    uint8_t pad8[48];
    uint8_t eddbuf[0xeec - 0xd00];
    uint8_t pad9[276];
};

static_assert(sizeof(BootParams) == 4096);
static_assert(offsetof(BootParams, tboot_address) == 0x058);
static_assert(offsetof(BootParams, acpi_rsdp_address) == 0x070);
static_assert(offsetof(BootParams, ext_ramdisk_image) == 0x0c0);
static_assert(offsetof(BootParams, ext_ramdisk_size) == 0x0c4);
static_assert(offsetof(BootParams, ext_cmd_line_ptr) == 0x0c8);
static_assert(offsetof(BootParams, cc_blob_address) == 0x13c);
static_assert(offsetof(BootParams, edid_info) == 0x140);
static_assert(offsetof(BootParams, efi_info) == 0x1c0);
static_assert(offsetof(BootParams, alt_mem_k) == 0x1e0);
static_assert(offsetof(BootParams, e820_entries) == 0x1e8);
static_assert(offsetof(BootParams, sentinel) == 0x1ef);
static_assert(offsetof(BootParams, hdr) == kSetupHeaderOffset);
static_assert(offsetof(BootParams, edd_mbr_sig_buffer) == 0x290);
static_assert(offsetof(BootParams, e820_table) == 0x2d0);
static_assert(offsetof(BootParams, eddbuf) == 0xd00);

}  // namespace skiff::boot::linux_boot
