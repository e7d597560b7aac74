#include "network.h"

#include "console.h"
#include "hostile.h"
#include "keyboard.h"
#include "net_config.h"
#include "net_interface.h"
#include "parse.h"
#include "pci.h"
#include "platform.h"
#include "string.h"
#include "virtio_mmio.h"
#include "virtio_pci.h"
#include "x86.h"

#define MAX_CANDIDATES 16
// Pacing by the time-stamp counter, whose rate the guest does not know:
// 2^24 ticks is a few milliseconds and 2^30 about a second on GHz hosts.
#define CONSOLE_CHECK_TICKS (1ull << 24)
#define ARP_RETRY_TICKS (1ull << 30)
#define ARP_ATTEMPTS 5
#define DEFAULT_REPORT_EVERY 100000
#define DEFAULT_FLOOD_SIZE 1472
#define FLOOD_SOURCE_PORT 9

// Where the NICs' rings and buffers live: RAM right after the image,
// reserved by the linker script but not part of any loaded segment, so
// the loader never touches (or commits) it.
extern char __network_memory_start[];

struct candidate {
    bool pci;
    uint64_t base;  // mmio
    struct pci_function function;  // pci
};

enum mode { MODE_SERVE, MODE_SINK, MODE_FLOOD, MODE_HOSTILE };

struct flood {
    struct net_interface *interface;
    uint32_t destination;
    uint16_t port;
    size_t payload_length;
    uint64_t limit;  // 0: forever
    uint64_t sent;
    size_t frame_length;
    uint32_t template_sum;  // UDP sum of the template with checksum and sequence 0
    uint8_t template[VIRTIO_NET_FRAME_MAX];
};

static struct net_interface interfaces[NETWORK_MAX_INTERFACES];
static unsigned interface_count;
static struct candidate candidates[MAX_CANDIDATES];
static unsigned candidate_count;
static const struct candidate *interface_candidates[NETWORK_MAX_INTERFACES];
static struct flood flood;

static void add_mmio(uint64_t base) {
    for (unsigned index = 0; index < candidate_count; ++index) {
        if (!candidates[index].pci && candidates[index].base == base) {
            return;
        }
    }
    if (candidate_count < MAX_CANDIDATES) {
        candidates[candidate_count++] = (struct candidate){.pci = false, .base = base};
    }
}

static void consider_mmio(uint64_t base, bool named) {
    switch (virtio_mmio_probe(base)) {
    case VIRTIO_MMIO_NET:
        add_mmio(base);
        break;
    case VIRTIO_MMIO_LEGACY:
        console_printf("skiff-testguest: virtio-mmio at %#lx is legacy (version 1): skipped\n",
                       base);
        break;
    case VIRTIO_MMIO_ABSENT:
        if (named) {
            console_printf("skiff-testguest: no virtio-mmio device at %#lx\n", base);
        }
        break;
    case VIRTIO_MMIO_OTHER_DEVICE:
        break;
    }
}

// Command-line devices first (in their order), then skiff's fixed slots,
// then virtio-pci functions in slot order.
static void discover(const struct cmdline *cmdline) {
    uint64_t bases[MAX_CANDIDATES];
    unsigned named = virtio_mmio_from_cmdline(cmdline, bases, MAX_CANDIDATES);
    for (unsigned index = 0; index < named && index < MAX_CANDIDATES; ++index) {
        consider_mmio(bases[index], true);
    }
    for (unsigned slot = 0; slot < VIRTIO_MMIO_PROBED_SLOTS; ++slot) {
        uint64_t base = PLATFORM_VIRTIO_MMIO_START + slot * PLATFORM_VIRTIO_MMIO_SLOT_SIZE;
        bool listed = false;
        for (unsigned index = 0; index < candidate_count; ++index) {
            listed |= !candidates[index].pci && candidates[index].base == base;
        }
        if (!listed) {
            consider_mmio(base, false);
        }
    }
    struct pci_function functions[MAX_CANDIDATES];
    unsigned found = pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_NET, functions, MAX_CANDIDATES);
    for (unsigned index = 0; index < found && index < MAX_CANDIDATES; ++index) {
        if (candidate_count < MAX_CANDIDATES) {
            candidates[candidate_count++] =
                (struct candidate){.pci = true, .function = functions[index]};
        }
    }
}

static struct virtio_net_memory *memory_for(unsigned index) {
    return (struct virtio_net_memory *)(uintptr_t)__network_memory_start + index;
}

static bool start_candidate(const struct candidate *candidate, bool reassign_bars) {
    struct net_interface *interface = &interfaces[interface_count];
    memset(interface, 0, sizeof(*interface));
    interface->index = interface_count;
    const char *problem = NULL;
    if (candidate->pci) {
        if (!virtio_pci_open(&interface->nic.transport, candidate->function, reassign_bars,
                             &problem)) {
            console_printf("skiff-testguest: virtio-net pci 00:%02x.%u: %s\n",
                           candidate->function.slot, candidate->function.function, problem);
            return false;
        }
    } else {
        virtio_mmio_open(&interface->nic.transport, candidate->base);
    }
    if (!virtio_net_start(&interface->nic, memory_for(interface_count), interface_count,
                          &problem)) {
        console_printf("skiff-testguest: virtio-net %s at %#lx: %s\n",
                       interface->nic.transport.kind, interface->nic.transport.location, problem);
        return false;
    }
    interface_candidates[interface_count] = candidate;
    ++interface_count;
    return true;
}

static void report_interface(const struct net_interface *interface) {
    char address[16] = "none";
    if (interface->address != 0) {
        net_format_ipv4(address, interface->address);
    }
    const uint8_t *mac = interface->nic.mac;
    console_printf("skiff-testguest: net%u %s mac=%02x:%02x:%02x:%02x:%02x:%02x ip=%s mtu=%u%s\n",
                   interface->index, interface->nic.transport.kind, mac[0], mac[1], mac[2],
                   mac[3], mac[4], mac[5], address, interface->nic.mtu,
                   interface->nic.link_up ? "" : " link=down");
}

static void report_counters(void) {
    for (unsigned index = 0; index < interface_count; ++index) {
        const struct net_counters *counters = &interfaces[index].counters;
        console_printf("skiff-testguest: net%u rx=%lu tx=%lu dropped=%lu rx_bytes=%lu "
                       "tx_bytes=%lu checksum_errors=%lu arp_replies=%lu echo_replies=%lu "
                       "udp_echoes=%lu\n",
                       index, counters->received, counters->transmitted, counters->dropped,
                       counters->received_bytes, counters->transmitted_bytes,
                       counters->checksum_errors, counters->arp_replies, counters->echo_replies,
                       counters->udp_echoes);
    }
}

static unsigned poll_all(void) {
    unsigned handled = 0;
    for (unsigned index = 0; index < interface_count; ++index) {
        handled += net_poll(&interfaces[index]);
    }
    return handled;
}

static uint64_t option_number(const struct cmdline *cmdline, const char *key, uint64_t fallback) {
    const struct cmdline_option *option = cmdline_lookup(cmdline, key);
    uint64_t value;
    if (option == NULL) {
        return fallback;
    }
    if (option->value == NULL || !parse_unsigned_exactly(option->value, option->value_length, &value)) {
        console_printf("skiff-testguest: %s: not a number, using %lu\n", key, fallback);
        return fallback;
    }
    return value;
}

// Finds the MAC of the next hop towards `destination`: ARP, retried, while
// serving; broadcast when there is no next hop or no answer.
static void resolve(struct net_interface *interface, uint32_t destination, uint8_t mac[6]) {
    memset(mac, 0xff, 6);
    const bool on_link = net_on_link(interface, destination);
    const uint32_t next_hop = on_link ? destination : interface->gateway;
    if (destination == 0xffffffffu || next_hop == 0 ||
        (on_link && (destination | interface->netmask) == 0xffffffffu)) {
        return;
    }
    for (unsigned attempt = 0; attempt < ARP_ATTEMPTS; ++attempt) {
        net_send_arp_request(interface, next_hop);
        const uint64_t start = read_tsc();
        while (read_tsc() - start < ARP_RETRY_TICKS) {
            poll_all();
            if (net_arp_lookup(interface, next_hop, mac)) {
                return;
            }
        }
    }
    console_printf("skiff-testguest: flood: no ARP answer, sending to the broadcast MAC\n");
}

static bool flood_setup(const struct cmdline *cmdline) {
    const struct cmdline_option *option = cmdline_lookup(cmdline, "testguest.flood_dst");
    const char *cursor = option != NULL && option->value != NULL ? option->value : "";
    const char *end = cursor + (option != NULL ? option->value_length : 0);
    uint64_t port;
    if (!parse_ipv4(&cursor, end, &flood.destination) || cursor == end || *cursor++ != ':' ||
        !parse_unsigned(&cursor, end, &port) || cursor != end || port == 0 || port > 0xffff) {
        console_printf("skiff-testguest: flood needs testguest.flood_dst=IP:PORT\n");
        return false;
    }
    flood.port = (uint16_t)port;
    flood.interface = NULL;
    for (unsigned index = 0; index < interface_count && flood.interface == NULL; ++index) {
        if (net_on_link(&interfaces[index], flood.destination)) {
            flood.interface = &interfaces[index];
        }
    }
    for (unsigned index = 0; index < interface_count && flood.interface == NULL; ++index) {
        if (interfaces[index].address != 0) {
            flood.interface = &interfaces[index];
        }
    }
    if (flood.interface == NULL) {
        console_printf("skiff-testguest: flood needs a NIC with an ip= address\n");
        return false;
    }
    const size_t largest = flood.interface->nic.mtu - IPV4_HEADER_SIZE - UDP_HEADER_SIZE;
    flood.payload_length = option_number(cmdline, "testguest.flood_size", DEFAULT_FLOOD_SIZE);
    if (flood.payload_length > largest) {
        flood.payload_length = largest;
    }
    flood.limit = option_number(cmdline, "testguest.flood_count", 0);
    uint8_t mac[6];
    resolve(flood.interface, flood.destination, mac);
    flood.frame_length = net_build_udp(flood.interface, flood.template, mac, flood.destination,
                                       FLOOD_SOURCE_PORT, flood.port, flood.payload_length);
    uint8_t *payload = flood.template + NET_UDP_PAYLOAD_OFFSET;
    for (size_t index = 0; index < flood.payload_length; ++index) {
        payload[index] = (uint8_t)index;
    }
    // The first 4 payload bytes carry a sequence number, 0 in the template.
    memset(payload, 0, flood.payload_length < 4 ? flood.payload_length : 4);
    flood.template_sum =
        net_udp_sum(flood.interface->address, flood.destination,
                    flood.template + ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE,
                    UDP_HEADER_SIZE + flood.payload_length);
    char address[16];
    net_format_ipv4(address, flood.destination);
    console_printf("skiff-testguest: flood dst=%s:%u size=%zu via net%u to "
                   "%02x:%02x:%02x:%02x:%02x:%02x\n",
                   address, flood.port, flood.payload_length, flood.interface->index, mac[0],
                   mac[1], mac[2], mac[3], mac[4], mac[5]);
    return true;
}

// Fills every free transmit buffer with the next datagrams, then notifies
// once. Returns the number queued.
static unsigned flood_step(void) {
    struct net_interface *interface = flood.interface;
    unsigned queued = 0;
    while (flood.limit == 0 || flood.sent < flood.limit) {
        uint16_t token;
        uint8_t *frame = virtio_net_transmit_buffer(&interface->nic, &token);
        if (frame == NULL) {
            break;
        }
        memcpy(frame, flood.template, flood.frame_length);
        uint32_t sum = flood.template_sum;
        if (flood.payload_length >= 4) {
            const uint32_t sequence = (uint32_t)flood.sent;
            store32(frame + NET_UDP_PAYLOAD_OFFSET, sequence);
            sum += (sequence >> 16) + (sequence & 0xffff);
        }
        store16(frame + NET_UDP_CHECKSUM_OFFSET, net_udp_checksum_value(sum));
        virtio_net_transmit(&interface->nic, token, flood.frame_length);
        ++interface->counters.transmitted;
        interface->counters.transmitted_bytes += flood.frame_length;
        ++flood.sent;
        ++queued;
    }
    if (queued > 0) {
        virtio_net_flush(&interface->nic);
    }
    return queued;
}

static uint64_t total_received(void) {
    uint64_t total = 0;
    for (unsigned index = 0; index < interface_count; ++index) {
        total += interfaces[index].counters.received;
    }
    return total;
}

static uint64_t total_received_bytes(void) {
    uint64_t total = 0;
    for (unsigned index = 0; index < interface_count; ++index) {
        total += interfaces[index].counters.received_bytes;
    }
    return total;
}

__attribute__((noreturn)) static void serve(enum mode mode, uint64_t report_every) {
    uint64_t next_report = report_every;
    bool flood_done = false;
    uint64_t last_console_check = read_tsc();
    for (;;) {
        poll_all();
        if (mode == MODE_FLOOD && !flood_done) {
            flood_step();
            if (flood.sent >= next_report) {
                console_printf("skiff-testguest: flood sent=%lu\n", flood.sent);
                while (next_report <= flood.sent) {
                    next_report += report_every;
                }
            }
            if (flood.limit != 0 && flood.sent >= flood.limit) {
                console_printf("skiff-testguest: flood done sent=%lu\n", flood.sent);
                flood_done = true;
            }
        } else if (mode == MODE_SINK && total_received() >= next_report) {
            console_printf("skiff-testguest: sink received=%lu bytes=%lu\n", total_received(),
                           total_received_bytes());
            while (next_report <= total_received()) {
                next_report += report_every;
            }
        }
        // The UART and the i8042 cost an exit per look: look only now and then.
        const uint64_t now = read_tsc();
        if (now - last_console_check >= CONSOLE_CHECK_TICKS) {
            last_console_check = now;
            keyboard_check_ctrl_alt_del();
            if (console_poll() >= 0) {
                report_counters();
                if (mode == MODE_FLOOD) {
                    console_printf("skiff-testguest: flood sent=%lu\n", flood.sent);
                }
            }
        }
    }
}

// Every NIC but net0, the target, polled while net0 is under attack.
static void serve_bystanders(void) {
    for (unsigned index = 1; index < interface_count; ++index) {
        net_poll(&interfaces[index]);
    }
}

// The size of a memory BAR (sized the usual way, decoding off meanwhile).
static uint64_t bar_size(struct pci_function function, uint8_t bar) {
    const uint8_t offset = (uint8_t)(PCI_BAR0 + 4 * bar);
    const uint16_t command = pci_read16(function, PCI_COMMAND);
    pci_write16(function, PCI_COMMAND, (uint16_t)(command & ~PCI_COMMAND_MEMORY));
    const uint32_t saved = pci_read32(function, offset);
    pci_write32(function, offset, 0xffffffffu);
    const uint32_t mask = pci_read32(function, offset) & 0xfffffff0u;
    pci_write32(function, offset, saved);
    pci_write16(function, PCI_COMMAND, command);
    return mask == 0 ? 0 : (uint64_t)(~mask) + 1;
}

// testguest.mode=hostile: net0 is attacked (hostile.h) while the other
// NICs serve; then net0 is reset, started again and serves too.
static void hostile(const struct cmdline *cmdline, const struct boot_info *info) {
    if (interface_count < 2) {
        console_printf("skiff-testguest: hostile needs two NICs (net0 attacked, net1 serving)\n");
        return;
    }
    const struct candidate *candidate = interface_candidates[0];
    struct hostile_target target = {
        .nic = &interfaces[0].nic,
        .memory = memory_for(0),
        .boot_info = info,
        .pci = candidate->pci,
        .function = candidate->function,
        .registers = candidate->base,
        .register_span = PLATFORM_VIRTIO_MMIO_SLOT_SIZE,
    };
    if (candidate->pci) {
        bool placed;
        target.registers = pci_memory_bar(candidate->function, 0, false, &placed);
        target.register_span = bar_size(candidate->function, 0);
        if (target.registers == 0 || target.register_span < 0x1000) {
            console_printf("skiff-testguest: hostile: net0's BAR 0 is unusable\n");
            return;
        }
    }
    for (unsigned index = 1; index < interface_count; ++index) {
        const struct candidate *other = interface_candidates[index];
        if (other->pci && target.avoid_end == 0) {
            bool placed;
            target.avoid_start = pci_memory_bar(other->function, 0, false, &placed);
            target.avoid_end = target.avoid_start + bar_size(other->function, 0);
        }
    }
    const uint64_t rounds = option_number(cmdline, "testguest.hostile_rounds", 10);
    const uint64_t seed = option_number(cmdline, "testguest.seed", 1);
    const uint64_t echoes_before = interfaces[1].counters.echo_replies;
    struct hostile_report report;
    hostile_run(&target, rounds, seed, serve_bystanders, &report);
    console_printf("skiff-testguest: hostile done rounds=%lu operations=%lu notifications=%lu "
                   "register_accesses=%lu config_writes=%lu pci_config_writes=%lu ring_attacks=%lu "
                   "net1_echo_replies=%lu\n",
                   report.rounds, report.operations, report.notifications, report.register_accesses,
                   report.config_writes, report.pci_config_writes, report.ring_attacks,
                   interfaces[1].counters.echo_replies - echoes_before);
    const char *problem = NULL;
    if (virtio_net_start(&interfaces[0].nic, memory_for(0), 0, &problem)) {
        console_printf("skiff-testguest: hostile net0 restarted\n");
    } else {
        console_printf("skiff-testguest: hostile net0 restart failed: %s\n", problem);
    }
}

void network_run(const struct cmdline *cmdline, const struct boot_info *info,
                 const struct cmdline_option *mode_option) {
    discover(cmdline);
    enum mode mode = MODE_SERVE;
    if (cmdline_value_is(mode_option, "flood")) {
        mode = MODE_FLOOD;
    } else if (cmdline_value_is(mode_option, "sink")) {
        mode = MODE_SINK;
    } else if (cmdline_value_is(mode_option, "hostile")) {
        mode = MODE_HOSTILE;
    }
    if (candidate_count == 0) {
        if (mode_option != NULL) {
            console_printf("skiff-testguest: no network device\n");
        }
        return;
    }
    const unsigned wanted =
        candidate_count < NETWORK_MAX_INTERFACES ? candidate_count : NETWORK_MAX_INTERFACES;
    const uint64_t memory_start = (uint64_t)(uintptr_t)memory_for(0);
    const uint64_t memory_size = (uint64_t)wanted * sizeof(struct virtio_net_memory);
    if (!boot_info_is_ram(info, memory_start, memory_size)) {
        console_printf("skiff-testguest: no RAM for network buffers at %#lx-%#lx\n", memory_start,
                       memory_start + memory_size);
        return;
    }
    const bool reassign = cmdline_value_is(cmdline_lookup(cmdline, "testguest.pci_reassign"), "1");
    for (unsigned index = 0; index < candidate_count; ++index) {
        if (interface_count == NETWORK_MAX_INTERFACES) {
            console_printf("skiff-testguest: more than %u NICs: the rest are not used\n",
                           NETWORK_MAX_INTERFACES);
            break;
        }
        start_candidate(&candidates[index], reassign);
    }
    if (interface_count == 0) {
        if (mode_option != NULL) {
            console_printf("skiff-testguest: no network device\n");
        }
        return;
    }
    struct net_address_config configs[NETWORK_MAX_INTERFACES];
    net_config_addresses(cmdline, configs, NETWORK_MAX_INTERFACES);
    for (unsigned index = 0; index < interface_count; ++index) {
        if (configs[index].configured) {
            interfaces[index].address = configs[index].address;
            interfaces[index].netmask = configs[index].netmask;
            interfaces[index].gateway = configs[index].gateway;
        }
        report_interface(&interfaces[index]);
    }
    console_printf("skiff-testguest: network ready\n");
    uint64_t report_every = option_number(cmdline, "testguest.report_every", DEFAULT_REPORT_EVERY);
    if (report_every == 0) {
        report_every = DEFAULT_REPORT_EVERY;
    }
    if (mode == MODE_FLOOD && !flood_setup(cmdline)) {
        mode = MODE_SERVE;
    }
    if (mode == MODE_HOSTILE) {
        hostile(cmdline, info);
        mode = MODE_SERVE;
    }
    serve(mode, report_every);
}
