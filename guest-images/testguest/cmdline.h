// The kernel command line as key=value words, Linux-style: words split on
// blanks, a double-quoted stretch keeps its blanks (key="a b"), the quotes
// around a value are dropped, and a word without '=' has no value. Keys
// may repeat (virtio_mmio.device= once per device).
#pragma once

#include "platform.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDLINE_MAX_OPTIONS 256

struct cmdline_option {
    const char *key;  // slices of cmdline.text, not NUL-terminated
    size_t key_length;
    const char *value;  // NULL when the word has no '='
    size_t value_length;
};

struct cmdline {
    char text[PLATFORM_CMDLINE_MAX];  // the line as given, NUL-terminated
    size_t length;
    bool truncated;  // longer than text, or more words than options
    struct cmdline_option options[CMDLINE_MAX_OPTIONS];
    size_t option_count;
};

// Copies the NUL-terminated line at physical address `address` (0: empty)
// into `cmdline` and splits it into options.
void cmdline_load(struct cmdline *cmdline, uint64_t address);

// Splits `cmdline->text` (already filled in, `length` set) into options.
void cmdline_parse(struct cmdline *cmdline);

// The first option named `key` at index `start` or later, or NULL. Walk
// repeated keys with cmdline_find(c, key, (size_t)(found - c->options) + 1).
const struct cmdline_option *cmdline_find(const struct cmdline *cmdline, const char *key,
                                          size_t start);

// The last option named `key` (the one that wins, as in Linux), or NULL.
const struct cmdline_option *cmdline_lookup(const struct cmdline *cmdline, const char *key);

// True when `option` exists, has a value, and the value is `expected`.
bool cmdline_value_is(const struct cmdline_option *option, const char *expected);
