// Counting CPUs from the Intel MultiProcessor Specification 1.4 tables.
#pragma once

// Finds the "_MP_" floating pointer in the BIOS areas, verifies it and its
// "PCMP" configuration table, and counts the enabled processor entries. A
// floating pointer announcing a default configuration counts 2 CPUs.
// Returns -1 when there is no valid MP table.
int mptable_count_cpus(void);
