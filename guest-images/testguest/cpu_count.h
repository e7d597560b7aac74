// How many CPUs the platform describes to the guest.
#pragma once

#include <stdint.h>

// ACPI's MADT when there is one (`rsdp_hint` as for acpi_count_cpus), else
// the MP table, else 1.
unsigned cpu_count(uint64_t rsdp_hint);
