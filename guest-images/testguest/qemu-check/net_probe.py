#!/usr/bin/env python3
"""Network probes for the test guest's QEMU check (net.sh), run inside the
check's network namespace. Each subcommand prints what it saw and exits 0
when the guest behaved, 1 when it did not.

  udp-echo ADDR [LARGEST]          datagrams of many sizes (up to LARGEST,
                                   default 1472) to ADDR:7, replies compared
                                   byte for byte; port 9 gets none
  raw IFACE MAC ADDR SRC           hand-made frames on IFACE: good ICMP and
                                   UDP echo requests are answered; bad IPv4,
                                   ICMP or UDP checksums and fragments are not
  udp-receive ADDR PORT COUNT SIZE SECONDS
                                   counts a flood's datagrams; checks sizes,
                                   pattern and distinct sequence numbers
  udp-send ADDR PORT COUNT SIZE    sends COUNT datagrams (for sink mode)
"""
import os
import socket
import struct
import sys
import time

ECHO_PORT = 7
DISCARD_PORT = 9
ETH_P_IP = 0x0800


def udp_echo(address, largest=1472):
    failures = 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2.0)
    sizes = [size for size in (0, 1, 2, 3, 17, 64, 100, 511, 512, 1000, 1400, 1471, 1472)
             if size < largest] + [largest]
    for size in sizes:
        payload = os.urandom(size)
        reply = None
        for _attempt in range(3):  # UDP: one lost datagram is not a failure
            sock.sendto(payload, (address, ECHO_PORT))
            try:
                reply, source = sock.recvfrom(65536)
                break
            except socket.timeout:
                continue
        if reply is None:
            print(f"udp-echo {address}: no reply for {size} bytes")
            failures += 1
        elif reply != payload or source != (address, ECHO_PORT):
            print(f"udp-echo {address}: wrong reply for {size} bytes from {source}")
            failures += 1
    sock.sendto(b"discard me", (address, DISCARD_PORT))
    sock.settimeout(0.5)
    try:
        sock.recvfrom(65536)
        print(f"udp-echo {address}: port {DISCARD_PORT} answered")
        failures += 1
    except socket.timeout:
        pass
    print(f"udp-echo {address}: {len(sizes)} sizes, {failures} failures")
    return failures == 0


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(src, dst, protocol, payload, bad_checksum=False, fragment=False, ident=0x4242):
    flags = 0x2000 if fragment else 0  # MF: the first of several fragments
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, 64,
                         protocol, 0, socket.inet_aton(src), socket.inet_aton(dst))
    value = checksum(header) ^ (0x5555 if bad_checksum else 0)
    return header[:10] + struct.pack("!H", value) + header[12:] + payload


def icmp_echo(ident, sequence, data, bad_checksum=False):
    message = struct.pack("!BBHHH", 8, 0, 0, ident, sequence) + data
    value = checksum(message) ^ (0x0101 if bad_checksum else 0)
    return message[:2] + struct.pack("!H", value) + message[4:]


def udp(src, dst, src_port, dst_port, data, bad_checksum=False):
    length = 8 + len(data)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, length)
    segment = struct.pack("!HHHH", src_port, dst_port, length, 0) + data
    value = checksum(pseudo + segment) or 0xFFFF
    if bad_checksum:
        value = value ^ 0x0101 or 0x0101
    return segment[:6] + struct.pack("!H", value) + segment[8:]


def raw(interface, guest_mac, guest_address, own_address):
    own_mac = bytes.fromhex(open(f"/sys/class/net/{interface}/address").read().strip().replace(":", ""))
    guest_mac = bytes.fromhex(guest_mac.replace(":", ""))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    sock.bind((interface, 0))

    def answered(frame, match, seconds=1.0):
        sock.send(guest_mac + own_mac + struct.pack("!H", ETH_P_IP) + frame)
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(65536)
            except socket.timeout:
                return False
            ip = data[14:]
            if data[:6] == own_mac and len(ip) >= 20 and ip[12:16] == socket.inet_aton(guest_address) \
                    and match(ip[9], ip[(ip[0] & 15) * 4:]):
                return True

    def echo_reply(ident):
        return lambda protocol, payload: protocol == 1 and payload[0] == 0 and \
            struct.unpack("!H", payload[4:6])[0] == ident

    def udp_reply(port):
        return lambda protocol, payload: protocol == 17 and \
            struct.unpack("!HH", payload[:4]) == (ECHO_PORT, port)

    data = b"skiff raw probe " * 4
    cases = [
        ("good ICMP echo", True, ipv4(own_address, guest_address, 1, icmp_echo(0x1001, 1, data)),
         echo_reply(0x1001)),
        ("good UDP echo", True, ipv4(own_address, guest_address, 17,
                                     udp(own_address, guest_address, 40001, ECHO_PORT, data)),
         udp_reply(40001)),
        ("UDP echo without checksum", True, ipv4(own_address, guest_address, 17,
                                                 udp(own_address, guest_address, 40002, ECHO_PORT, data)[:6]
                                                 + b"\0\0" + data), udp_reply(40002)),
        ("bad IPv4 header checksum", False,
         ipv4(own_address, guest_address, 1, icmp_echo(0x1002, 1, data), bad_checksum=True),
         echo_reply(0x1002)),
        ("bad ICMP checksum", False,
         ipv4(own_address, guest_address, 1, icmp_echo(0x1003, 1, data, bad_checksum=True)),
         echo_reply(0x1003)),
        ("bad UDP checksum", False, ipv4(own_address, guest_address, 17,
                                         udp(own_address, guest_address, 40003, ECHO_PORT, data,
                                             bad_checksum=True)), udp_reply(40003)),
        ("first fragment of an echo request", False,
         ipv4(own_address, guest_address, 1, icmp_echo(0x1004, 1, data), fragment=True),
         echo_reply(0x1004)),
    ]
    failures = 0
    for name, expected, frame, match in cases:
        seen = answered(frame, match)
        verdict = "ok" if seen == expected else "FAILED"
        failures += seen != expected
        print(f"raw {interface}: {name}: {'answered' if seen else 'not answered'} ({verdict})")
    return failures == 0


def udp_receive(address, port, count, size, seconds):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    so_rcvbufforce = getattr(socket, "SO_RCVBUFFORCE", 33)  # root may exceed rmem_max
    sock.setsockopt(socket.SOL_SOCKET, so_rcvbufforce, 16 << 20)
    sock.bind((address, port))
    print("listening", flush=True)
    expected_tail = bytes(index & 0xFF for index in range(size))[4:]
    sequences = set()
    bad = 0
    deadline = time.monotonic() + seconds
    while len(sequences) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(65536)
        except socket.timeout:
            break
        if len(data) != size or data[4:] != expected_tail:
            bad += 1
            continue
        sequences.add(struct.unpack("!I", data[:4])[0])
    in_range = all(sequence < count for sequence in sequences)
    print(f"udp-receive {address}:{port}: {len(sequences)} distinct of {count}, {bad} malformed")
    return len(sequences) == count and bad == 0 and in_range


def udp_send(address, port, count, size):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"s" * size
    for index in range(count):
        sock.sendto(payload, (address, port))
        if index % 32 == 31:
            time.sleep(0.002)  # keep within the guest's receive ring under TCG
    print(f"udp-send {address}:{port}: {count} datagrams of {size} bytes")
    return True


def main(arguments):
    command = arguments[0] if arguments else ""
    if command == "udp-echo" and len(arguments) in (2, 3):
        return udp_echo(arguments[1], *(int(value) for value in arguments[2:]))
    if command == "raw" and len(arguments) == 5:
        return raw(*arguments[1:])
    if command == "udp-receive" and len(arguments) == 6:
        return udp_receive(arguments[1], int(arguments[2]), int(arguments[3]), int(arguments[4]),
                           float(arguments[5]))
    if command == "udp-send" and len(arguments) == 5:
        return udp_send(arguments[1], int(arguments[2]), int(arguments[3]), int(arguments[4]))
    print(__doc__, file=sys.stderr)
    return False


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:]) else 1)
