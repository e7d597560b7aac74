#include "cpu_count.h"

#include "acpi.h"
#include "mptable.h"

unsigned cpu_count(uint64_t rsdp_hint) {
    const int from_acpi = acpi_count_cpus(rsdp_hint);
    if (from_acpi > 0) {
        return (unsigned)from_acpi;
    }
    const int from_mptable = mptable_count_cpus();
    if (from_mptable > 0) {
        return (unsigned)from_mptable;
    }
    return 1;
}
