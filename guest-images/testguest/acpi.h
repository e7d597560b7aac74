// Counting CPUs from ACPI: RSDP -> XSDT (or RSDT) -> MADT ("APIC").
#pragma once

#include <stdint.h>

// Counts the enabled Processor Local APIC (type 0) and Processor Local
// x2APIC (type 9) entries of the MADT. `rsdp_hint` is the RSDP's address
// from the boot protocol, or 0; when it is 0 or invalid the BIOS areas are
// searched. Every table's checksum is verified. Returns -1 when there is
// no valid RSDP, root table or MADT.
int acpi_count_cpus(uint64_t rsdp_hint);
