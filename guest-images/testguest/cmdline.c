#include "cmdline.h"

#include "firmware_scan.h"
#include "string.h"

static bool is_blank(char character) {
    return character == ' ' || character == '\t' || character == '\n' || character == '\r';
}

void cmdline_load(struct cmdline *cmdline, uint64_t address) {
    cmdline->length = 0;
    cmdline->truncated = false;
    if (address != 0 && physical_range_mapped(address, 1)) {
        const char *source = physical_pointer(address);
        // Stop at the end of the identity map as well as at the NUL.
        uint64_t limit = sizeof(cmdline->text) - 1;
        if (!physical_range_mapped(address, limit)) {
            limit = IDENTITY_MAP_END - address;
        }
        cmdline->length = strnlen(source, limit);
        cmdline->truncated = cmdline->length == sizeof(cmdline->text) - 1 &&
                             physical_range_mapped(address, limit + 1) &&
                             source[cmdline->length] != '\0';
        memcpy(cmdline->text, source, cmdline->length);
    }
    cmdline->text[cmdline->length] = '\0';
    cmdline_parse(cmdline);
}

void cmdline_parse(struct cmdline *cmdline) {
    cmdline->option_count = 0;
    const char *cursor = cmdline->text;
    const char *end = cmdline->text + cmdline->length;
    while (cursor < end) {
        while (cursor < end && is_blank(*cursor)) {
            ++cursor;
        }
        if (cursor == end) {
            break;
        }
        const char *word = cursor;
        const char *equals = NULL;
        bool quoted = false;
        for (; cursor < end && (quoted || !is_blank(*cursor)); ++cursor) {
            if (*cursor == '"') {
                quoted = !quoted;
            } else if (*cursor == '=' && equals == NULL && !quoted) {
                equals = cursor;
            }
        }
        if (cmdline->option_count == CMDLINE_MAX_OPTIONS) {
            cmdline->truncated = true;
            break;
        }
        struct cmdline_option *option = &cmdline->options[cmdline->option_count++];
        option->key = word;
        option->key_length = (size_t)((equals != NULL ? equals : cursor) - word);
        option->value = NULL;
        option->value_length = 0;
        if (equals != NULL) {
            const char *value = equals + 1;
            size_t value_length = (size_t)(cursor - value);
            if (value_length >= 1 && value[0] == '"') {
                ++value;
                --value_length;
                if (value_length >= 1 && value[value_length - 1] == '"') {
                    --value_length;
                }
            }
            option->value = value;
            option->value_length = value_length;
        }
    }
}

const struct cmdline_option *cmdline_find(const struct cmdline *cmdline, const char *key,
                                          size_t start) {
    for (size_t index = start; index < cmdline->option_count; ++index) {
        const struct cmdline_option *option = &cmdline->options[index];
        if (text_equals(option->key, option->key_length, key)) {
            return option;
        }
    }
    return NULL;
}

const struct cmdline_option *cmdline_lookup(const struct cmdline *cmdline, const char *key) {
    const struct cmdline_option *last = NULL;
    for (const struct cmdline_option *option = cmdline_find(cmdline, key, 0); option != NULL;
         option = cmdline_find(cmdline, key, (size_t)(option - cmdline->options) + 1)) {
        last = option;
    }
    return last;
}

bool cmdline_value_is(const struct cmdline_option *option, const char *expected) {
    return option != NULL && option->value != NULL &&
           text_equals(option->value, option->value_length, expected);
}
