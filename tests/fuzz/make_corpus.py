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


def main():
    for target, seeds in (("fuzz_virtio_mmio", mmio_seeds()), ("fuzz_descriptor_chain", chain_seeds())):
        directory = os.path.join(HERE, "corpus", target)
        os.makedirs(directory, exist_ok=True)
        for name, content in seeds.items():
            with open(os.path.join(directory, "seed_" + name), "wb") as out:
                out.write(content)


if __name__ == "__main__":
    main()
