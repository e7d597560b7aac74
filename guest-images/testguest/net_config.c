#include "net_config.h"

#include "console.h"
#include "format.h"
#include "parse.h"
#include "string.h"

#define FIELD_CLIENT 0
#define FIELD_GATEWAY 2
#define FIELD_NETMASK 3
#define FIELD_DEVICE 5

// "ethK" or "netK" in the device field: the NIC it names.
static bool named_device(const char *text, size_t length, unsigned *index) {
    uint64_t value;
    if (length > 3 && (text_equals(text, 3, "eth") || text_equals(text, 3, "net")) &&
        parse_unsigned_exactly(text + 3, length - 3, &value) && value < 0x10000) {
        *index = (unsigned)value;
        return true;
    }
    return false;
}

// An optional address field: empty or absent gives `fallback`.
static bool optional_address(const char *value, size_t length, unsigned field, uint32_t fallback,
                             uint32_t *address) {
    const char *start;
    size_t field_length;
    if (!colon_field(value, length, field, &start, &field_length) || field_length == 0) {
        *address = fallback;
        return true;
    }
    return parse_ipv4_exactly(start, field_length, address);
}

void net_config_addresses(const struct cmdline *cmdline, struct net_address_config *configs,
                          unsigned count) {
    for (unsigned index = 0; index < count; ++index) {
        configs[index] = (struct net_address_config){.configured = false};
    }
    unsigned position = 0;
    for (const struct cmdline_option *option = cmdline_find(cmdline, "ip", 0); option != NULL;
         option = cmdline_find(cmdline, "ip", (size_t)(option - cmdline->options) + 1),
                                     ++position) {
        const char *value = option->value != NULL ? option->value : "";
        const size_t length = option->value_length;
        unsigned target = position;
        const char *device;
        size_t device_length;
        if (colon_field(value, length, FIELD_DEVICE, &device, &device_length) &&
            device_length > 0 && !named_device(device, device_length, &target)) {
            console_printf("skiff-testguest: ip=%.*s: device must be ethN or netN\n", (int)length,
                           value);
            continue;
        }
        const char *client;
        size_t client_length;
        struct net_address_config config = {.configured = true};
        colon_field(value, length, FIELD_CLIENT, &client, &client_length);
        if (!parse_ipv4_exactly(client, client_length, &config.address)) {
            if (target < count) {
                configs[target].configured = false;  // ip=off, ip=dhcp: no address
            }
            continue;
        }
        if (!optional_address(value, length, FIELD_GATEWAY, 0, &config.gateway) ||
            !optional_address(value, length, FIELD_NETMASK, NET_DEFAULT_NETMASK, &config.netmask) ||
            config.address == 0) {
            console_printf("skiff-testguest: ip=%.*s: bad address\n", (int)length, value);
            continue;
        }
        if (target < count) {
            configs[target] = config;
        }
    }
}

void net_format_ipv4(char *text, uint32_t address) {
    format_to_buffer(text, 16, "%u.%u.%u.%u", address >> 24, (address >> 16) & 0xff,
                     (address >> 8) & 0xff, address & 0xff);
}
