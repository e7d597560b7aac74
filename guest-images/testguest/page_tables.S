// The guest's identity map of 0-4 GiB in 2 MiB pages, assembled as data so
// no CPL0 loop has to build it. Every level has U/S set: the drivers run
// at CPL3 and reach RAM and the MMIO hole directly. The top GiB (the MMIO
// hole, 0xc0000000-0xffffffff) is mapped uncached.
#define PAGE_PRESENT 0x1
#define PAGE_WRITABLE 0x2
#define PAGE_USER 0x4
#define PAGE_WRITE_THROUGH 0x8
#define PAGE_CACHE_DISABLE 0x10
#define PAGE_LARGE 0x80
#define TABLE_FLAGS (PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER)
#define RAM_FLAGS (TABLE_FLAGS | PAGE_LARGE)
#define MMIO_FLAGS (RAM_FLAGS | PAGE_WRITE_THROUGH | PAGE_CACHE_DISABLE)
#define LARGE_PAGE_SIZE 0x200000
#define RAM_LARGE_PAGES 1536   // 0-3 GiB
#define MMIO_LARGE_PAGES 512   // 3-4 GiB

        .section .data.page_tables, "aw", @progbits
        .balign 4096
        .globl page_map_level4
page_map_level4:
        .quad page_directory_pointer_table + TABLE_FLAGS
        .fill 511, 8, 0

page_directory_pointer_table:
        .quad page_directories + 0x0000 + TABLE_FLAGS
        .quad page_directories + 0x1000 + TABLE_FLAGS
        .quad page_directories + 0x2000 + TABLE_FLAGS
        .quad page_directories + 0x3000 + TABLE_FLAGS
        .fill 508, 8, 0

page_directories:
        .set address, 0
        .rept RAM_LARGE_PAGES
        .quad address + RAM_FLAGS
        .set address, address + LARGE_PAGE_SIZE
        .endr
        .rept MMIO_LARGE_PAGES
        .quad address + MMIO_FLAGS
        .set address, address + LARGE_PAGE_SIZE
        .endr

        .section .note.GNU-stack, "", @progbits
