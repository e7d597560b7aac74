#include "vmm/privileges.h"

#include "vmm/decimal.h"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace skiff {

namespace {

// The kernel's capability sets in version 3 layout: two 32-bit words each.
struct CapabilitySets {
    uint64_t effective = 0;
    uint64_t permitted = 0;
    uint64_t inheritable = 0;
};

constexpr uint64_t capability_bit(int capability) { return uint64_t{1} << capability; }

// capget/capset for the calling thread, by raw system call (no libcap).
Result<CapabilitySets> thread_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (::syscall(SYS_capget, &header, data) != 0) {
        return errno_error("capget");
    }
    CapabilitySets sets;
    sets.effective = data[0].effective | (uint64_t{data[1].effective} << 32);
    sets.permitted = data[0].permitted | (uint64_t{data[1].permitted} << 32);
    sets.inheritable = data[0].inheritable | (uint64_t{data[1].inheritable} << 32);
    return sets;
}

Result<void> set_thread_capabilities(const CapabilitySets& sets) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    data[0].effective = static_cast<uint32_t>(sets.effective);
    data[1].effective = static_cast<uint32_t>(sets.effective >> 32);
    data[0].permitted = static_cast<uint32_t>(sets.permitted);
    data[1].permitted = static_cast<uint32_t>(sets.permitted >> 32);
    data[0].inheritable = static_cast<uint32_t>(sets.inheritable);
    data[1].inheritable = static_cast<uint32_t>(sets.inheritable >> 32);
    if (::syscall(SYS_capset, &header, data) != 0) {
        return errno_error("capset");
    }
    return {};
}

// "<step>: <strerror>: <fix>" for a failed step of the drop.
Error step_error(std::string_view step, std::string_view fix) {
    int saved = errno;
    return Error::format("dropping privileges: {}: {}: {}", step, std::strerror(saved), fix);
}

Result<void> change_root(const std::string& directory) {
    if (::chroot(directory.c_str()) != 0) {
        return step_error(fmt::format("chroot({})", directory),
                          "run skiff as root (or with CAP_SYS_CHROOT) to use --chroot, and give an existing directory");
    }
    if (::chdir("/") != 0) {
        return step_error("chdir(\"/\") after chroot", "check the --chroot directory is searchable");
    }
    return {};
}

Result<void> change_ids(uid_t uid, gid_t gid) {
    constexpr std::string_view kNeedRoot = "run skiff as root (or with CAP_SETUID and CAP_SETGID) to use --uid/--gid";
    if (::setgroups(0, nullptr) != 0) {
        return step_error("setgroups(0)", kNeedRoot);
    }
    if (::setresgid(gid, gid, gid) != 0) {
        return step_error(fmt::format("setresgid({})", gid), kNeedRoot);
    }
    if (::setresuid(uid, uid, uid) != 0) {
        return step_error(fmt::format("setresuid({})", uid), kNeedRoot);
    }
    return {};
}

// After setresuid: the thread keeps its permitted set (PR_SET_KEEPCAPS) but
// loses its effective one; this makes both exactly {CAP_NET_ADMIN}.
Result<void> keep_only(uint64_t kept) {
    CapabilitySets sets;
    sets.effective = kept;
    sets.permitted = kept;
    if (auto done = set_thread_capabilities(sets); !done) {
        return Error::format("dropping privileges: keeping only CAP_NET_ADMIN (to delete the macvtaps skiff created "
                             "and give VFs their MACs back when it exits): {}: give skiff CAP_NET_ADMIN, or "
                             "pre-create the macvtap (name=) and leave out mac= on a VF, so skiff need not undo them",
                             done.error().message);
    }
    return {};
}

std::string describe_capabilities(uint64_t sets) {
    return sets == 0 ? std::string("none") : fmt::format("{:#x}", sets);
}

// A directory's identity, to check the new root is the --chroot directory.
struct DirectoryIdentity {
    dev_t device = 0;
    ino_t inode = 0;
};

// Every id and capability set as asked, read back from the kernel.
Result<void> verify(const Privileges& privileges, uint64_t kept, const DirectoryIdentity& jail) {
    if (privileges.uid) {
        uid_t real = 0, effective = 0, saved = 0;
        gid_t group_real = 0, group_effective = 0, group_saved = 0;
        if (::getresuid(&real, &effective, &saved) != 0 ||
            ::getresgid(&group_real, &group_effective, &group_saved) != 0) {
            return errno_error("dropping privileges: reading the ids back");
        }
        if (real != *privileges.uid || effective != *privileges.uid || saved != *privileges.uid ||
            group_real != *privileges.gid || group_effective != *privileges.gid || group_saved != *privileges.gid) {
            return Error::format("dropping privileges did not take: uids {}/{}/{}, gids {}/{}/{} instead of {} and {}: "
                                 "run skiff as root (or with CAP_SETUID and CAP_SETGID)",
                                 real, effective, saved, group_real, group_effective, group_saved, *privileges.uid,
                                 *privileges.gid);
        }
        int groups = ::getgroups(0, nullptr);
        if (groups != 0) {
            return Error::format("dropping privileges did not take: {} supplementary group(s) left: run skiff as root "
                                 "(or with CAP_SETGID)",
                                 groups);
        }
        auto sets = TRY(thread_capabilities().context_error("dropping privileges"));
        if (sets.effective != kept || sets.permitted != kept || sets.inheritable != 0) {
            return Error::format("dropping privileges did not take: capabilities effective {}, permitted {}, "
                                 "inheritable {} instead of {}: check for file capabilities or securebits set on "
                                 "skiff",
                                 describe_capabilities(sets.effective), describe_capabilities(sets.permitted),
                                 describe_capabilities(sets.inheritable), describe_capabilities(kept));
        }
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_ADMIN, 0, 0) > 0) {
            return Error{"dropping privileges did not take: an ambient capability is left: clear the ambient set"};
        }
    }
    if (privileges.chroot) {
        struct stat root {};
        char cwd[2] = {};
        if (::stat("/", &root) != 0 || root.st_dev != jail.device || root.st_ino != jail.inode ||
            ::getcwd(cwd, sizeof(cwd)) == nullptr || cwd[0] != '/') {
            return Error::format("dropping privileges did not take: the root is not the --chroot directory {}",
                                 *privileges.chroot);
        }
    }
    return {};
}

}  // namespace

Result<uint32_t> parse_numeric_id(std::string_view text, std::string_view flag) {
    auto parsed = parse_whole_number(text);
    if (!parsed) {
        return Error::format("{}: '{}' is not a number: give the numeric id (e.g. $(id -u {}) or $(getent group {} | "
                             "cut -d: -f3))",
                             flag, text, text, text);
    }
    uint64_t value = *parsed;
    if (value >= std::numeric_limits<uint32_t>::max()) {
        return Error::format("{}: {} is out of range: ids go from 0 to {}", flag, text,
                             std::numeric_limits<uint32_t>::max() - 1);
    }
    return static_cast<uint32_t>(value);
}

Result<void> check_privileges(const Privileges& privileges) {
    if (privileges.uid && !privileges.gid) {
        return Error::format("--uid {} needs --gid too: give the group to run as (e.g. --gid {})", *privileges.uid,
                             *privileges.uid);
    }
    if (privileges.gid && !privileges.uid) {
        return Error::format("--gid {} needs --uid too: give the user to run as (e.g. --uid {})", *privileges.gid,
                             *privileges.gid);
    }
    if (privileges.chroot) {
        struct stat status {};
        if (::stat(privileges.chroot->c_str(), &status) != 0) {
            return Error::format("--chroot {}: {}: create the directory first (it may be empty)", *privileges.chroot,
                                 std::strerror(errno));
        }
        if (!S_ISDIR(status.st_mode)) {
            return Error::format("--chroot {} is not a directory: give a directory (it may be empty)",
                                 *privileges.chroot);
        }
    }
    return {};
}

Result<void> drop_privileges(const Privileges& privileges, KeptCapability keep) {
    if (!privileges.any()) {
        return {};
    }
    TRY(check_privileges(privileges));
    uint64_t kept = 0;
    if (privileges.uid && keep == KeptCapability::NetAdmin) {
        kept = capability_bit(CAP_NET_ADMIN);
        if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
            return step_error("prctl(PR_SET_KEEPCAPS)", "run skiff on Linux 2.2 or later");
        }
    }
    DirectoryIdentity jail;
    if (privileges.chroot) {
        struct stat status {};
        if (::stat(privileges.chroot->c_str(), &status) != 0) {
            return step_error(fmt::format("--chroot {}", *privileges.chroot), "create the directory first");
        }
        jail = DirectoryIdentity{status.st_dev, status.st_ino};
        TRY(change_root(*privileges.chroot));
    }
    if (privileges.uid) {
        Result<void> changed = change_ids(*privileges.uid, *privileges.gid);
        if (kept != 0) {
            ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        }
        TRY(std::move(changed));
        // Nothing to inherit across an exec, not even through the ambient set.
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        if (kept != 0) {
            TRY(keep_only(kept));
        }
    }
    TRY(verify(privileges, kept, jail));
    spdlog::info("privileges dropped:{}{}{}",
                 privileges.chroot ? fmt::format(" root {}", *privileges.chroot) : std::string(),
                 privileges.uid ? fmt::format(" uid {} gid {}, no supplementary groups", *privileges.uid,
                                              *privileges.gid)
                                : std::string(),
                 privileges.uid ? (kept != 0 ? ", capabilities: CAP_NET_ADMIN only (to delete the macvtaps skiff "
                                               "created, to give VFs their MACs back)"
                                             : ", no capabilities")
                                : std::string());
    return {};
}

}  // namespace skiff
