// Dropping root after set-up (--uid, --gid, --chroot).
//
// skiff needs privilege only to set the VM up: /dev/kvm, taps, bridges and
// macvtaps, /dev/vhost-net, VFIO. Once all of that is open, the running VM
// needs none of it, so a runtime that starts skiff as root can have it
// become an unprivileged user, jailed in a directory, before the guest runs
// its first instruction.
//
// The drop, in this order (each step needs the privilege the next one
// removes): chroot(dir) and chdir("/"); setgroups(0, nullptr);
// setresgid(gid, gid, gid); setresuid(uid, uid, uid). Then it is verified
// (getresuid, getresgid, getgroups, capget); anything that did not take is
// an error, and the caller must not run the VM.
//
// Threads: chroot is process-wide; glibc applies setgroups/setresgid/
// setresuid to every thread. Capabilities are per thread: with
// KeptCapability::NetAdmin, the calling thread (and every thread it starts
// afterwards) keeps exactly CAP_NET_ADMIN in its effective and permitted
// sets, to delete the macvtaps skiff created and give the VFs it set a MAC
// on (mode=vfio, mac=) their old ones back when the VM ends; threads that
// existed before (the API server's, the main thread in API mode) lose every
// capability. Without it, no thread keeps any capability.
#pragma once

#include "vmm/result.h"
#include "vmm/vm_config.h"

#include <string_view>

namespace skiff {

enum class KeptCapability { None, NetAdmin };

// A uid or gid given on the command line: decimal digits only, below
// 2^32 - 1 (which setresuid reads as "unchanged"). `flag` names the option
// in the error ("--uid: 'nobody' is not a number: give the numeric id, e.g.
// $(id -u nobody)").
Result<uint32_t> parse_numeric_id(std::string_view text, std::string_view flag);

// Start-up checks, before anything is set up: --uid and --gid together, the
// --chroot directory exists and is a directory. Errors name the fix.
Result<void> check_privileges(const Privileges& privileges);

// Does the drop described above; nothing when `privileges` is empty.
// Errors name the step, the cause and the fix ("setresuid(65534): Operation
// not permitted: run skiff as root (or with CAP_SETUID) to use --uid").
Result<void> drop_privileges(const Privileges& privileges, KeptCapability keep = KeptCapability::None);

}  // namespace skiff
