// The memory and string functions the compiler may call on its own
// (memcpy, memmove, memset, memcmp), plus a few the guest uses.
#pragma once

#include <stdbool.h>
#include <stddef.h>

void *memcpy(void *destination, const void *source, size_t length);
void *memmove(void *destination, const void *source, size_t length);
void *memset(void *destination, int value, size_t length);
int memcmp(const void *left, const void *right, size_t length);
size_t strlen(const char *text);
size_t strnlen(const char *text, size_t limit);

// True when the `length` bytes at `text` spell exactly the NUL-terminated
// `expected` (for comparing a slice of a larger string).
bool text_equals(const char *text, size_t length, const char *expected);
