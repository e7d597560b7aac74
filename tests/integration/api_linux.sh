#!/usr/bin/env bash
# A Linux guest booted the Firecracker way: curl --unix-socket PUTs of
# boot-source (kernel, initrd, boot args), machine-config and an interface
# on a tap, then InstanceStart. The minimal kernel configures eth0 from
# `ip=` and answers ping; pause stops the answers, resume brings them back.
# usage: api_linux.sh SKIFF
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
source "$(dirname "$0")/api_lib.sh"
source "$(dirname "$0")/linux_lib.sh"
SKIFF=$1
require_kvm
require_net
require_curl
kernel=$(linux_kernel minimal)
spin=$(linux_initramfs spin)

ns=$(make_netns a)
add_tap "$ns" tap0 10.0.5.1/24
API_SOCK="$TEST_TMP/skiff.sock"
start_skiff linux "$ns" --api-sock "$API_SOCK" --id linux-api
wait_socket "$API_SOCK" 10
api_expect 204 PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"initrd_path\": \"$spin\",
  \"boot_args\": \"console=ttyS0 reboot=k panic=-1 ip=10.0.5.2::10.0.5.1:255.255.255.0::eth0:off\"}"
api_expect 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
api_expect 204 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "guest_mac": "06:00:AC:10:00:02", "host_dev_name": "tap0"}'
api_expect 204 PUT /actions '{"action_type": "InstanceStart"}'
limit=${SKIFF_LINUX_BOOT_LIMIT:-900}
started=$SECONDS
wait_console linux 'Run /init as init process' "$limit"
echo "  /init reached $((SECONDS - started)) s after InstanceStart"
grep -a -q 'IP-Config: Complete' "$TEST_TMP/linux.out" || { show_skiff linux; fail "the kernel did not configure eth0"; }
ping_ok "$ns" 10.0.5.2 10 56
api_expect 204 PATCH /vm '{"state": "Paused"}'
if in_ns "$ns" ping -n -q -c 3 -i 0.2 -W 1 10.0.5.2 >/dev/null 2>&1; then
    fail "the paused guest answered ping"
fi
echo "  paused: no answer to ping"
api_expect 204 PATCH /vm '{"state": "Resumed"}'
ping_ok "$ns" 10.0.5.2 10 1472
stop_skiff linux
echo "PASS: Linux booted through the REST API answered ping, paused and resumed"
