#!/usr/bin/env python3
"""Writes the hand-made seed corpus of each fuzz target (tests/fuzz/corpus/).

The seeds are valid, or nearly valid, driver behaviour so that the fuzzer
starts from the deep paths (a device at DRIVER_OK, chains with indirect
tables) rather than rediscovering them. Input formats: see the comment at
the top of each fuzz_*.cpp. Run again after changing a format; files the
fuzzer added to the corpus directories (named by hash) are left alone.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# virtio-mmio registers
MAGIC, VERSION, DEVICE_ID = 0x000, 0x004, 0x008
DEVICE_FEATURES, DEVICE_FEATURES_SEL = 0x010, 0x014
DRIVER_FEATURES, DRIVER_FEATURES_SEL = 0x020, 0x024
QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY, QUEUE_NOTIFY = 0x030, 0x034, 0x038, 0x044, 0x050
INTERRUPT_STATUS, INTERRUPT_ACK, STATUS = 0x060, 0x064, 0x070
QUEUE_DESC, QUEUE_DRIVER, QUEUE_DEVICE = 0x080, 0x090, 0x0a0
CONFIG_GENERATION, CONFIG = 0x0fc, 0x100
ACK, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8
VERSION_1_HIGH = 1 << (32 - 32)
EVENT_IDX, INDIRECT = 1 << 29, 1 << 28
NEXT, WRITE, INDIRECT_FLAG = 1, 2, 4

WRITE_OP, READ_OP, ACTION_OP, MEMORY_OP = 0, 1, 2, 3
SIZE_CODE = {4: 0, 1: 1, 2: 2, 8: 3}


def op(kind, offset, value=0, size=4):
    return bytes([kind | (SIZE_CODE[size] << 2)]) + struct.pack("<HI", offset, value & 0xFFFFFFFF)


def write(offset, value, size=4):
    return op(WRITE_OP, offset, value, size)


def read(offset, size=4):
    return op(READ_OP, offset, 0, size)


def memory_words(address, data):
    """Guest memory writes, four bytes at a time."""
    data = data + bytes(-len(data) % 4)
    return b"".join(op(MEMORY_OP, address + i, struct.unpack_from("<I", data, i)[0]) for i in range(0, len(data), 4))


def descriptor(address, length, flags=0, next_index=0):
    return struct.pack("<QIHH", address, length, flags, next_index)


def linux_probe(features_low, features_high=VERSION_1_HIGH):
    ops = [read(MAGIC), read(VERSION), read(DEVICE_ID), write(STATUS, 0), write(STATUS, ACK),
           write(STATUS, ACK | DRIVER), write(DEVICE_FEATURES_SEL, 1), read(DEVICE_FEATURES),
           write(DEVICE_FEATURES_SEL, 0), read(DEVICE_FEATURES), write(DRIVER_FEATURES_SEL, 1),
           write(DRIVER_FEATURES, features_high), write(DRIVER_FEATURES_SEL, 0),
           write(DRIVER_FEATURES, features_low), write(STATUS, ACK | DRIVER | FEATURES_OK), read(STATUS)]
    return b"".join(ops)


def set_up_queue(index, size, desc, driver, device):
    ops = [write(QUEUE_SEL, index), read(QUEUE_READY), read(QUEUE_NUM_MAX), write(QUEUE_NUM, size),
           write(QUEUE_DESC, desc), write(QUEUE_DESC + 4, 0), write(QUEUE_DRIVER, driver),
           write(QUEUE_DRIVER + 4, 0), write(QUEUE_DEVICE, device), write(QUEUE_DEVICE + 4, 0),
           write(QUEUE_READY, 1)]
    return b"".join(ops)


def mmio_seeds():
    seeds = {}
    two_queues = set_up_queue(0, 16, 0x1000, 0x2000, 0x3000) + set_up_queue(1, 16, 0x4000, 0x5000, 0x6000)
    running = linux_probe(0) + two_queues + write(STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK)
    chain = (memory_words(0x1000, descriptor(0x8000, 0x100, NEXT, 1) + descriptor(0x9000, 0x200, WRITE))
             + memory_words(0x2000, struct.pack("<HHH", 0, 1, 0)))
    seeds["linux_init_two_queues"] = bytes([0x04]) + running
    seeds["one_chain_processed"] = (bytes([0x04]) + running + chain + write(QUEUE_NOTIFY, 0)
                                    + op(ACTION_OP, 0, 0x000) + read(INTERRUPT_STATUS)
                                    + write(INTERRUPT_ACK, 1) + read(INTERRUPT_STATUS))
    indirect_chain = (memory_words(0x1000, descriptor(0x7000, 48, INDIRECT_FLAG))
                      + memory_words(0x7000, descriptor(0x8000, 16, NEXT, 1) + descriptor(0x9000, 32, WRITE | NEXT, 2)
                                     + descriptor(0xa000, 64, WRITE))
                      + memory_words(0x2000, struct.pack("<HHH", 0, 1, 0)))
    seeds["indirect_event_idx"] = (bytes([0x04]) + linux_probe(EVENT_IDX | INDIRECT) + two_queues
                                   + write(STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK) + indirect_chain
                                   + op(ACTION_OP, 0, 0x000))
    seeds["refused_features"] = bytes([0x01]) + linux_probe(1 << 3) + write(STATUS, 0) + linux_probe(0)
    seeds["reset_and_again"] = (bytes([0x0c]) + running + op(ACTION_OP, 0, 3) + read(STATUS) + write(STATUS, 0)
                                + running + op(ACTION_OP, 0, 2) + read(CONFIG_GENERATION))
    seeds["bad_queue_size"] = (bytes([0x00]) + linux_probe(0) + set_up_queue(0, 3, 0x1000, 0x2000, 0x3000)
                               + write(STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK) + read(STATUS))
    seeds["odd_accesses"] = (bytes([0x00]) + read(MAGIC, 1) + read(MAGIC + 2, 2) + read(MAGIC, 8)
                             + write(STATUS, ACK, 1) + read(CONFIG, 1) + read(CONFIG + 2, 2) + read(CONFIG, 8)
                             + write(CONFIG + 1, 0xAB, 1) + read(CONFIG) + write(QUEUE_NOTIFY, 0))
    return seeds


def chain_seed(size_exponent, flags, second_index, table, available, data=b""):
    size = 1 << size_exponent
    table = table + bytes(16 * size - len(table))
    available = available + bytes(6 + 2 * size - len(available))
    return bytes([size_exponent, flags]) + struct.pack("<H", second_index) + table + available + data


def available_ring(index, heads, flags=0):
    return struct.pack("<HH", flags, index) + b"".join(struct.pack("<H", h) for h in heads)


def chain_seeds():
    base = 0x10000  # guest memory start in fuzz_descriptor_chain
    seeds = {}
    table = (descriptor(base, 64, NEXT, 1) + descriptor(base + 0x100, 128, WRITE)
             + descriptor(base + 0x200, 32) + descriptor(base + 0x300, 8, WRITE))
    seeds["two_chains"] = chain_seed(2, 0x00, 3, table, available_ring(2, [0, 2, 3, 0]))
    indirect_table = (descriptor(base + 0x1000, 16, NEXT, 1) + descriptor(base + 0x2000, 32, WRITE | NEXT, 2)
                      + descriptor(base + 0x3000, 32, WRITE))
    seeds["indirect"] = chain_seed(1, 0x12, 1, descriptor(base, 48, INDIRECT_FLAG), available_ring(1, [0]),
                                   indirect_table)
    singles = b"".join(descriptor(base + 0x100 * i, 16, WRITE if i % 2 else 0) for i in range(8))
    seeds["event_idx_republish"] = chain_seed(3, 0x01, 8, singles, available_ring(3, list(range(8))))
    seeds["loop"] = chain_seed(2, 0x00, 0, descriptor(base, 16, NEXT, 1) + descriptor(base, 16, NEXT, 0),
                               available_ring(1, [0]))
    seeds["readable_after_writable"] = chain_seed(1, 0x00, 0, descriptor(base, 16, WRITE | NEXT, 1)
                                                  + descriptor(base, 16), available_ring(1, [0]))
    seeds["large_avail_last"] = chain_seed(10, 0x04 | 0x10, 2, descriptor(base, 4096, WRITE),
                                           available_ring(1, [0]))
    seeds["used_last_wraparound"] = chain_seed(2, 0x08, 0xFFFF, table, available_ring(2, [0, 2, 3, 0]))
    return seeds


# fuzz_virtio_pci: 8-byte operations (kind | size << 3, 24-bit where, value)
PCI_PORT_WRITE, PCI_PORT_READ, PCI_BAR_WRITE, PCI_BAR_READ, PCI_ACTION, PCI_MEMORY = 0, 1, 4, 5, 6, 7
PCI_SIZE = {4: 0, 1: 1, 2: 2, 8: 3}
PCI_SLOT = 1  # the first device after the host bridge
BAR_START = 0xC0000000  # the fuzz target's window start, where the BAR is first placed
COMMON, ISR, DEVICE_CFG, NOTIFY, MSIX_TABLE, MSIX_PBA = 0x0000, 0x1000, 0x2000, 0x3000, 0x4000, 0x6000
C_DFSEL, C_DF, C_GFSEL, C_GF, C_MSIX, C_NUMQ, C_STATUS, C_GEN = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x12, 0x14, 0x15
Q_SEL, Q_SIZE, Q_MSIX, Q_ENABLE, Q_NOFF, Q_DESC, Q_DRIVER, Q_DEVICE = 0x16, 0x18, 0x1A, 0x1C, 0x1E, 0x20, 0x28, 0x30
MSIX_CAP, PCI_CFG_CAP = 0x98, 0x84  # capability positions in the transport's configuration space


def pci_op(kind, where, value=0, size=4):
    return bytes([kind | (PCI_SIZE[size] << 3)]) + struct.pack("<I", where)[:3] + struct.pack("<I", value & 0xFFFFFFFF)


def conf_write(register, value, size=4, slot=PCI_SLOT):
    return pci_op(PCI_PORT_WRITE, 0x800000 | (slot << 8) | register, value, size)


def conf_read(register, size=4, slot=PCI_SLOT):
    return pci_op(PCI_PORT_READ, 0x800000 | (slot << 8) | register, 0, size)


def bar_write(offset, value, size=4):
    return pci_op(PCI_BAR_WRITE, offset, value, size)


def bar_read(offset, size=4):
    return pci_op(PCI_BAR_READ, offset, 0, size)


def pci_memory_words(address, data):
    data = data + bytes(-len(data) % 4)
    return b"".join(pci_op(PCI_MEMORY, address + i, struct.unpack_from("<I", data, i)[0])
                    for i in range(0, len(data), 4))


def pci_enumerate():
    """Linux's probe: IDs, BAR sizing, capability walk, memory decoding on, MSI-X on."""
    ops = [conf_read(0x00, slot=0), conf_read(0x00), conf_read(0x08), conf_read(0x2C), conf_read(0x06, 2),
           conf_read(0x34, 1), conf_write(0x04, 0, 2), conf_read(0x10), conf_write(0x10, 0xFFFFFFFF),
           conf_read(0x10), conf_write(0x10, BAR_START), conf_read(0x14), conf_write(0x14, 0xFFFFFFFF),
           conf_read(0x14), conf_write(0x14, 0)]
    for position in (0x40, 0x50, 0x64, 0x74, 0x84, MSIX_CAP):
        ops += [conf_read(position, 1), conf_read(position + 1, 1), conf_read(position + 3, 1)]
    ops += [conf_write(0x04, 0x6, 2), conf_write(MSIX_CAP + 2, 0xC000, 2),
            conf_write(MSIX_CAP + 2, 0x8000, 2)]  # function mask while programming, then enable
    return b"".join(ops)


def msix_entry(vector, masked=False):
    base = MSIX_TABLE + 16 * vector
    return b"".join([bar_write(base, 0xFEE00000), bar_write(base + 4, 0), bar_write(base + 8, 0x30 + vector),
                     bar_write(base + 12, 1 if masked else 0)])


def pci_negotiate(features_low, features_high=1):
    return b"".join([bar_write(C_STATUS, 0, 1), bar_write(C_STATUS, ACK, 1), bar_write(C_STATUS, ACK | DRIVER, 1),
                     bar_write(C_DFSEL, 1), bar_read(C_DF), bar_write(C_DFSEL, 0), bar_read(C_DF),
                     bar_write(C_GFSEL, 1), bar_write(C_GF, features_high), bar_write(C_GFSEL, 0),
                     bar_write(C_GF, features_low), bar_write(C_STATUS, ACK | DRIVER | FEATURES_OK, 1),
                     bar_read(C_STATUS, 1), bar_read(C_NUMQ, 2)])


def pci_queue(index, size, desc, driver, device, vector):
    return b"".join([bar_write(Q_SEL, index, 2), bar_read(Q_SIZE, 2), bar_write(Q_SIZE, size, 2),
                     bar_write(Q_MSIX, vector, 2), bar_read(Q_MSIX, 2), bar_read(Q_NOFF, 2),
                     bar_write(Q_DESC, desc, 8), bar_write(Q_DRIVER, driver), bar_write(Q_DRIVER + 4, 0),
                     bar_write(Q_DEVICE, device, 8), bar_write(Q_ENABLE, 1, 2)])


def pci_seeds():
    seeds = {}
    vectors = msix_entry(0) + msix_entry(1) + msix_entry(2) + bar_write(C_MSIX, 0, 2) + bar_read(C_MSIX, 2)
    queues = (pci_queue(0, 16, 0x1000, 0x2000, 0x3000, 1) + pci_queue(1, 16, 0x4000, 0x5000, 0x6000, 2))
    running = (pci_enumerate() + pci_negotiate(0) + vectors + queues
               + bar_write(C_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK, 1) + bar_read(C_STATUS, 1)
               + conf_write(MSIX_CAP + 2, 0x8000, 2))
    chain = (pci_memory_words(0x1000, descriptor(0x8000, 0x100, NEXT, 1) + descriptor(0x9000, 0x200, WRITE))
             + pci_memory_words(0x2000, struct.pack("<HHH", 0, 1, 0)))
    shape_two_queues = bytes([0x04])
    seeds["linux_init_two_queues"] = shape_two_queues + running
    seeds["one_chain_processed"] = (shape_two_queues + running + chain + bar_write(NOTIFY, 0, 2)
                                    + pci_op(PCI_ACTION, 0, 0x000) + bar_read(ISR, 1) + bar_read(MSIX_PBA, 8))
    seeds["bar_moved_while_running"] = (shape_two_queues + running + conf_write(0x10, BAR_START + 0x10000)
                                        + bar_write(NOTIFY + 4, 1, 2) + conf_write(0x04, 0, 2)
                                        + conf_write(0x10, BAR_START + 0x8000) + conf_write(0x04, 0x6, 2)
                                        + bar_write(C_STATUS, 0, 1) + bar_read(C_STATUS, 1))
    seeds["masked_vectors_and_config_change"] = (shape_two_queues + pci_enumerate() + pci_negotiate(0)
                                                 + msix_entry(0, True) + msix_entry(1, True)
                                                 + bar_write(C_MSIX, 0, 2) + queues
                                                 + bar_write(C_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK, 1)
                                                 + pci_op(PCI_ACTION, 0, 0x102) + pci_op(PCI_ACTION, 0, 0x001)
                                                 + bar_read(MSIX_PBA, 8) + bar_write(MSIX_TABLE + 12, 0)
                                                 + bar_read(C_GEN, 1) + pci_op(PCI_ACTION, 0, 3)
                                                 + bar_read(C_STATUS, 1))
    # The PCI configuration access capability: bar 0, offset of device_status, 1 byte.
    via_config = (conf_write(PCI_CFG_CAP + 4, 0, 1) + conf_write(PCI_CFG_CAP + 8, C_STATUS)
                  + conf_write(PCI_CFG_CAP + 12, 1) + conf_write(PCI_CFG_CAP + 16, ACK)
                  + conf_read(PCI_CFG_CAP + 16))
    seeds["config_access_capability"] = bytes([0x00]) + pci_enumerate() + via_config
    seeds["event_idx_indirect"] = (bytes([0x0C]) + pci_enumerate() + pci_negotiate(EVENT_IDX | INDIRECT) + vectors
                                   + queues + bar_write(C_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK, 1)
                                   + pci_memory_words(0x1000, descriptor(0x7000, 48, INDIRECT_FLAG))
                                   + pci_memory_words(0x7000, descriptor(0x8000, 16, NEXT, 1)
                                                      + descriptor(0x9000, 32, WRITE))
                                   + pci_memory_words(0x2000, struct.pack("<HHH", 0, 1, 0))
                                   + bar_write(NOTIFY, 0, 2) + pci_op(PCI_ACTION, 0, 0))
    seeds["refused_then_bad_queue"] = (bytes([0x01]) + pci_enumerate() + pci_negotiate(0) + bar_write(C_STATUS, 0, 1)
                                       + pci_negotiate(1 << 3) + pci_queue(0, 3, 0x1000, 0x2000, 0x3000, 0)
                                       + bar_write(C_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK, 1))
    return seeds


# fuzz_net_queue_pair: guest memory from 0x10000, rings from 0x18000
NET_BASE, NET_RING_AREA = 0x10000, 0x8000


def net_rings(rx_size, tx_size):
    def align(value, alignment):
        return (value + alignment - 1) & ~(alignment - 1)
    next_address = NET_BASE + NET_RING_AREA
    rings = []
    for size in (rx_size, tx_size):
        desc = align(next_address, 16)
        avail = align(desc + 16 * size, 2)
        used = align(avail + 6 + 2 * size, 4)
        next_address = used + 6 + 8 * size
        rings.append((desc, avail, used))
    return rings


def net_memory(address, data):
    ops = b""
    for i in range(0, len(data), 255):
        piece = data[i:i + 255]
        ops += bytes([0]) + struct.pack("<HB", address + i - NET_BASE, len(piece)) + piece
    return ops


def net_inject(payload):
    return bytes([1]) + struct.pack("<H", len(payload)) + payload


NET_RX, NET_TX, NET_BOTH, NET_TAKE = bytes([2]), bytes([3]), bytes([4]), bytes([5])


def net_seed(flags, rx_buffers, tx_frames, frames, rx_size=16, tx_size=16):
    (rx_desc, rx_avail, _), (tx_desc, tx_avail, _) = net_rings(rx_size, tx_size)
    header = bytes([4, 4, flags])  # sizes 1 << 4 = 16
    table = b"".join(descriptor(NET_BASE + 0x800 * i, length, WRITE) for i, length in enumerate(rx_buffers))
    ops = net_memory(rx_desc, table)
    ops += net_memory(rx_avail, available_ring(len(rx_buffers), list(range(len(rx_buffers)))))
    tx_table = b""
    heads = []
    for i, frame in enumerate(tx_frames):
        address = NET_BASE + 0x4000 + 0x800 * i
        ops += net_memory(address, frame)
        heads.append(2 * i)
        tx_table += descriptor(address, 12, NEXT, 2 * i + 1) + descriptor(address + 12, len(frame) - 12)
    ops += net_memory(tx_desc, tx_table) + net_memory(tx_avail, available_ring(len(heads), heads))
    for frame in frames:
        ops += net_inject(frame)
    return header + ops + NET_RX + NET_TX + NET_TAKE + NET_BOTH


def net_seeds():
    ethernet = bytes(12) + bytes.fromhex("ffffffffffff525400123456" "0800") + bytes(range(46))
    seeds = {}
    seeds["rx_and_tx"] = net_seed(0x80, [2048] * 4, [ethernet, ethernet + bytes(100)],
                                  [ethernet, ethernet + bytes(1000)])
    seeds["mergeable_event_idx"] = net_seed(0x85, [64] * 8, [ethernet], [ethernet + bytes(300), bytes(5), ethernet])
    seeds["frame_too_big"] = net_seed(0x08, [32], [bytes(20)], [ethernet + bytes(2000)])
    seeds["small_batch"] = net_seed(0x10, [128] * 6, [ethernet] * 3, [ethernet] * 5) + NET_BOTH + NET_BOTH
    return seeds


def api_request(method, path, body=""):
    return f"{method} {path}\n{body}".encode()


def api_seeds():
    tap = '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:AC:10:00:02", "mtu": 1500}'
    limiter = ('{"bandwidth": {"size": 1000000, "one_time_burst": 100, "refill_time": 100}, '
               '"ops": {"size": 100, "refill_time": 1000}}')
    start = api_request("PUT", "/actions", '{"action_type": "InstanceStart"}')
    seeds = {
        "get_info": api_request("GET", "/"),
        "get_version": api_request("GET", "/version"),
        "get_vm_config": api_request("GET", "/vm/config"),
        "get_machine_config": api_request("GET", "/machine-config"),
        "boot_source": api_request("PUT", "/boot-source",
                                   '{"kernel_image_path": "vmlinux", "boot_args": "console=ttyS0", '
                                   '"initrd_path": "initrd"}'),
        "machine_config": api_request("PUT", "/machine-config",
                                      '{"vcpu_count": 2, "mem_size_mib": 1024, "smt": false, '
                                      '"cpu_template": "T2", "track_dirty_pages": false}'),
        "machine_config_patch": api_request("PATCH", "/machine-config", '{"mem_size_mib": 256}'),
        "network_interface": api_request("PUT", "/network-interfaces/eth0", tap),
        "network_interface_limited": api_request(
            "PUT", "/network-interfaces/eth1",
            '{"iface_id": "eth1", "host_dev_name": "tap1", "rx_rate_limiter": ' + limiter +
            ', "tx_rate_limiter": ' + limiter + ', "transport": "pci", "bridge": "br0"}'),
        "network_interface_macvtap": api_request(
            "PUT", "/network-interfaces/m0",
            '{"iface_id": "m0", "host_dev_name": "", "mode": "macvtap", "link": "eth1", '
            '"macvtap_mode": "vepa", "vhost": true}'),
        "network_interface_vfio": api_request(
            "PUT", "/network-interfaces/v0",
            '{"iface_id": "v0", "host_dev_name": "", "mode": "vfio", "pf": "eth1", "vf": 2}'),
        "logger": api_request("PUT", "/logger",
                              '{"log_path": "/tmp/log", "level": "Debug", "show_level": true, '
                              '"show_log_origin": false, "module": "api"}'),
        "metrics": api_request("PUT", "/metrics", '{"metrics_path": "/tmp/metrics"}'),
        "start": start,
        "bad_method": api_request("DELETE", "/machine-config"),
        "unknown_path": api_request("PUT", "/drives/rootfs", '{"drive_id": "rootfs"}'),
        # Sequences: configure, start, then the post-boot requests.
        "boot_sequence": b"\0".join([
            api_request("PUT", "/network-interfaces/eth0", tap),
            api_request("PUT", "/metrics", '{"metrics_path": "/m"}'),
            start,
            api_request("PATCH", "/vm", '{"state": "Paused"}'),
            api_request("PATCH", "/vm", '{"state": "Resumed"}'),
            api_request("PATCH", "/network-interfaces/eth0",
                        '{"iface_id": "eth0", "rx_rate_limiter": ' + limiter + '}'),
            api_request("PUT", "/actions", '{"action_type": "SendCtrlAltDel"}'),
            api_request("PUT", "/actions", '{"action_type": "FlushMetrics"}'),
        ]),
        "config_file": api_request(
            "GET", "/",
            '{"boot-source": {"kernel_image_path": "vmlinux", "boot_args": "console=ttyS0"}, "drives": [], '
            '"machine-config": {"vcpu_count": 2, "mem_size_mib": 1024}, "network-interfaces": [' + tap + '], '
            '"logger": {"level": "Info"}, "metrics": {"metrics_path": "/m"}, "vsock": null}'),
    }
    return seeds


CONFIG_TAP = ('{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:AC:10:00:02", "mtu": 1500}')
CONFIG_LIMITER = ('{"bandwidth": {"size": 1000000, "one_time_burst": 100, "refill_time": 100}, '
                  '"ops": {"size": 100, "refill_time": 1000}}')


def config_file_seeds():
    """fuzz_config_file: Firecracker-style config files, valid and nearly so."""
    full = ('{"boot-source": {"kernel_image_path": "vmlinux", "boot_args": "console=ttyS0", "initrd_path": "initrd"}, '
            '"drives": [], "machine-config": {"vcpu_count": 2, "mem_size_mib": 1024, "smt": false, '
            '"cpu_template": "T2", "track_dirty_pages": false}, "network-interfaces": [' + CONFIG_TAP + ', '
            '{"iface_id": "eth1", "host_dev_name": "tap1", "rx_rate_limiter": ' + CONFIG_LIMITER + ', '
            '"tx_rate_limiter": ' + CONFIG_LIMITER + ', "transport": "pci", "bridge": "br0"}], '
            '"logger": {"log_path": "/tmp/log", "level": "Debug", "show_level": true}, '
            '"metrics": {"metrics_path": "/m"}, "vsock": null, "balloon": null}')
    return {
        "full": full.encode(),
        "minimal": b'{"boot-source": {"kernel_image_path": "vmlinux"}}',
        "empty_object": b"{}",
        "network_modes": ('{"network-interfaces": [{"iface_id": "m0", "host_dev_name": "", "mode": "macvtap", '
                          '"link": "eth1", "macvtap_mode": "vepa", "vhost": true}, {"iface_id": "v0", '
                          '"host_dev_name": "", "mode": "vfio", "pf": "eth1", "vf": 2}]}').encode(),
        "duplicate_interface": ('{"network-interfaces": [' + CONFIG_TAP + ', ' + CONFIG_TAP + ']}').encode(),
        "unimplemented_section": b'{"vsock": {"guest_cid": 3, "uds_path": "/v.sock"}, "drives": [{"drive_id": "a"}]}',
        "machine_out_of_range": b'{"machine-config": {"vcpu_count": 0, "mem_size_mib": 99999999999}}',
        "wrong_types": b'{"boot-source": [], "machine-config": {"vcpu_count": "2"}, "network-interfaces": {}}',
        "truncated": full[:200].encode(),
    }


# fuzz_kernel_image: a flags byte and an initrd size byte, then the image.
LOADED_HIGH, XLF_KERNEL_64 = 0x01, 0x01


def bzimage(setup_sects=4, kernel_size=0x400, version=0x020F, loadflags=LOADED_HIGH, xloadflags=XLF_KERNEL_64,
            relocatable=1, kernel_alignment=0x200000, pref_address=0x100000, init_size=0x200000,
            header_end=0x26C, cmdline_size=0x7FF, initrd_addr_max=0x7FFFFFFF):
    """A synthetic bzImage: a setup header as Linux boot.rst lays it out, a patterned 'kernel'."""
    setup_size = ((setup_sects or 4) + 1) * 512
    image = bytearray(setup_size) + bytes((i * 7 + 0x5A) & 0xFF for i in range(kernel_size))
    struct.pack_into("<BHI", image, 0x1F1, setup_sects, 0, kernel_size // 16)
    struct.pack_into("<HH", image, 0x1FE, 0xAA55, 0xEB | ((header_end - 0x202) << 8))
    struct.pack_into("<4sH", image, 0x202, b"HdrS", version)
    struct.pack_into("<B", image, 0x211, loadflags)
    struct.pack_into("<I", image, 0x214, 0x100000)
    struct.pack_into("<IIBBHI", image, 0x22C, initrd_addr_max, kernel_alignment, relocatable, 0, xloadflags,
                     cmdline_size)
    struct.pack_into("<QI", image, 0x258, pref_address, init_size)
    return bytes(image)


def elf_note(name, note_type, descriptor):
    name_bytes = name.encode() + b"\0"
    pad = lambda data: data + bytes(-len(data) % 4)
    return struct.pack("<III", len(name_bytes), len(descriptor), note_type) + pad(name_bytes) + pad(descriptor)


def elf64(entry=0x100000, segments=((0x100000, 0x100000, 0x100, 0x200),), pvh_entry=None, linux_note=False):
    """A minimal ELF64 x86-64 executable: a PT_NOTE (GNU, maybe Xen PVH and Linux) and PT_LOAD segments
    given as (physical, virtual, file size, memory size)."""
    notes = elf_note("GNU", 3, bytes(20))
    if pvh_entry is not None:
        notes += elf_note("Xen", 18, struct.pack("<Q", pvh_entry))
    if linux_note:
        notes += elf_note("Linux", 0x100, bytes(4))
    count = len(segments) + 1
    notes_offset = 64 + 56 * count
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, 64, 0, 0, 64, 56, count, 0, 0, 0)
    programs = struct.pack("<IIQQQQQQ", 4, 4, notes_offset, 0, 0, len(notes), len(notes), 4)
    offset = notes_offset + len(notes)
    contents = b""
    for index, (physical, virtual, file_size, memory_size) in enumerate(segments):
        programs += struct.pack("<IIQQQQQQ", 1, 5, offset, virtual, physical, file_size, memory_size, 0x1000)
        contents += bytes((i * 7 + 0x30 + index) & 0xFF for i in range(file_size))
        offset += file_size
    return header + programs + notes + contents


def elf32(entry=0x100000, segments=((0x100000, 0xC0100000, 0x100, 0x200),), pvh_entry=0x100010):
    """A minimal ELF32 i386 executable as elf64() builds it, with a 4-byte Xen PVH note (or none)."""
    notes = elf_note("GNU", 3, bytes(20))
    if pvh_entry is not None:
        notes += elf_note("Xen", 18, struct.pack("<I", pvh_entry))
    count = len(segments) + 1
    notes_offset = 52 + 32 * count
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    header = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, entry, 52, 0, 0, 52, 32, count, 0, 0, 0)
    programs = struct.pack("<IIIIIIII", 4, notes_offset, 0, 0, len(notes), len(notes), 4, 4)
    offset = notes_offset + len(notes)
    contents = b""
    for index, (physical, virtual, file_size, memory_size) in enumerate(segments):
        programs += struct.pack("<IIIIIIII", 1, offset, virtual, physical, file_size, memory_size, 5, 0x1000)
        contents += bytes((i * 7 + 0x30 + index) & 0xFF for i in range(file_size))
        offset += file_size
    return header + programs + notes + contents


def kernel_seed(image, protocol=0, initrd=False, rsdp=True, cmdline_units=1, initrd_units=3):
    flags = protocol | (4 if initrd else 0) | (8 if rsdp else 0) | (cmdline_units << 4)
    return bytes([flags, initrd_units]) + image


def kernel_image_seeds():
    high = 0xFFFFFFFF81000000
    return {
        "bzimage": kernel_seed(bzimage()),
        "bzimage_initrd_fixed_address": kernel_seed(bzimage(relocatable=0, pref_address=0x200000), initrd=True),
        "bzimage_pvh_refused": kernel_seed(bzimage(), protocol=1),
        "bzimage_old_protocol": kernel_seed(bzimage(version=0x020A)),
        "bzimage_short_header": kernel_seed(bzimage(header_end=0x240)),
        "bzimage_kernel_past_end": kernel_seed(bzimage()[:-16]),
        "bzimage_too_big_for_memory": kernel_seed(bzimage(init_size=0x10000000)),
        "bzimage_short_cmdline_size": kernel_seed(bzimage(cmdline_size=8), cmdline_units=2),
        "elf": kernel_seed(elf64()),
        "elf_pvh_linux_initrd": kernel_seed(elf64(pvh_entry=0x100010, linux_note=True), initrd=True),
        "elf_high_virtual": kernel_seed(elf64(entry=high + 0x40, segments=((0x200000, high, 0x80, 0x1000),
                                                                               (0x300000, high + 0x100000, 0x40, 0x40))),
                                        protocol=2),
        "elf_segment_beyond_memory": kernel_seed(elf64(entry=0x7FFF00, segments=((0x7FFF00, 0x7FFF00, 0x100, 0x1000),))),
        "elf_below_1mib": kernel_seed(elf64(entry=0x8000, segments=((0x8000, 0x8000, 0x10, 0x10),))),
        "elf_truncated": kernel_seed(elf64()[:150]),
        "elf32_pvh_initrd": kernel_seed(elf32(), initrd=True),
        "elf32_pvh_linux64_refused": kernel_seed(elf32(), protocol=2),
        "elf32_no_pvh_note": kernel_seed(elf32(pvh_entry=None)),
        "elf32_up_to_4gib": kernel_seed(elf32(segments=((0xFFFFE000, 0xFFFFE000, 0x100, 0x2000),),
                                              pvh_entry=0xFFFFE000)),
        "elf32_truncated": kernel_seed(elf32()[:120]),
    }


def http_parser_seeds():
    """fuzz_http_parser: a piece size, then a connection's bytes."""
    put = b'{"vcpu_count": 1, "mem_size_mib": 128}'
    return {
        "get": b"\x07GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n",
        "put_body": b"\x00PUT /machine-config HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(put) + put,
        "pipelined": (b"\x10PUT /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
                      b"\r\nGET /version?x=1 HTTP/1.0\nConnection: keep-alive\n\n"
                      b"GET /network-interfaces/eth%30 HTTP/1.1\r\nConnection: close\r\n\r\n"),
        "expect_continue": b"\x03PUT /logger HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "chunked": b"\x05PUT /boot-source HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{}{}\r\n0\r\n\r\n",
        "content_length_twice": b"\x01PUT /vm HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        "content_length_negative": b"\x02PUT /vm HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "nul_in_path": b"\x09GET /machine-config%00xyz HTTP/1.1\r\n\r\n",
        "too_large": b"\xffPUT /boot-source HTTP/1.1\r\nContent-Length: 51201\r\n\r\n",
        "folded": b"\x04GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n",
    }


def main():
    for target, seeds in (("fuzz_virtio_mmio", mmio_seeds()), ("fuzz_descriptor_chain", chain_seeds()),
                            ("fuzz_virtio_pci", pci_seeds()), ("fuzz_net_queue_pair", net_seeds()),
                            ("fuzz_api", api_seeds()), ("fuzz_config_file", config_file_seeds()),
                            ("fuzz_kernel_image", kernel_image_seeds()), ("fuzz_http_parser", http_parser_seeds())):
        directory = os.path.join(HERE, "corpus", target)
        os.makedirs(directory, exist_ok=True)
        for name, content in seeds.items():
            with open(os.path.join(directory, "seed_" + name), "wb") as out:
                out.write(content)


if __name__ == "__main__":
    main()
