#include "vmm/seccomp.h"

#include "devices/vfio/vfio_abi.h"
#include "devices/virtio/vhost/vhost_abi.h"
#include "net/created_links.h"
#include "vmm/exit_status.h"
#include "vmm/kvm_abi.h"
#include "vmm/unique_fd.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

namespace skiff::seccomp {

namespace {

// An argument comparison with both data given (libseccomp's SCMP_An
// macros leave datum_b out, which -Wmissing-field-initializers rejects).
constexpr scmp_arg_cmp arg(unsigned index, scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0) {
    return scmp_arg_cmp{index, op, a, b};
}

// One allowed call: the system call, and conditions on its arguments that
// must all hold (none: any arguments). Several rules for one call: any.
struct Rule {
    int syscall;
    std::vector<scmp_arg_cmp> conditions;
};

// ioctls on a vCPU fd, from the vCPU thread only: running, and what the
// exit handlers read and write (triple fault report, emulation completion).
const std::vector<unsigned long>& vcpu_ioctls() {
    static const std::vector<unsigned long> requests{
        KVM_RUN,      KVM_GET_REGS,        KVM_SET_REGS,        KVM_GET_SREGS, KVM_SET_SREGS,
        KVM_GET_FPU,  KVM_SET_FPU,         KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_TRANSLATE,
    };
    return requests;
}

// ioctls any run-time thread may make for the devices: interrupts (IRQ
// lines, irqfds, MSI routes), ioeventfds and VFIO BAR slots when the guest
// programs a device; tap offloads, vhost-net rings and VFIO interrupts when
// it activates one (a vCPU thread, on the guest's register write), or when
// the API or the event loop resets or reconfigures one.
const std::vector<unsigned long>& device_ioctls() {
    static const std::vector<unsigned long> requests{
        KVM_IRQ_LINE,
        KVM_IRQFD,
        KVM_IOEVENTFD,
        kvm_abi::kSetGsiRouting,
        KVM_SET_USER_MEMORY_REGION,
        TUNSETOFFLOAD,
        TUNSETVNETHDRSZ,
        vhost::abi::kGetFeatures,
        vhost::abi::kSetFeatures,
        vhost::abi::kSetOwner,
        vhost::abi::kSetMemTable,
        vhost::abi::kSetVringNum,
        vhost::abi::kSetVringAddr,
        vhost::abi::kSetVringBase,
        vhost::abi::kGetVringBase,
        vhost::abi::kSetVringKick,
        vhost::abi::kSetVringCall,
        vhost::abi::kNetSetBackend,
        VFIO_DEVICE_SET_IRQS,
        VFIO_DEVICE_RESET,
    };
    return requests;
}

// The console's terminal mode (raw while the VM runs), restored by the
// event loop when it ends.
const std::vector<unsigned long>& terminal_ioctls() {
    static const std::vector<unsigned long> requests{TCGETS, TCSETS, TCSETSW, TCSETSF};
    return requests;
}

void add(std::vector<Rule>& rules, std::initializer_list<int> syscalls) {
    for (int syscall : syscalls) {
        rules.push_back(Rule{syscall, {}});
    }
}

void add_ioctls(std::vector<Rule>& rules, const std::vector<unsigned long>& requests) {
    for (unsigned long request : requests) {
        rules.push_back(Rule{SCMP_SYS(ioctl), {arg(1, SCMP_CMP_EQ, request)}});
    }
}

// What every kind does: memory (the allocator; never executable), locks
// and condition variables, clocks, logging (spdlog writes), vCPU kicks,
// fds it closes, abort() and the crash clean-up handler (re-raising a crash
// signal), and thread or process exit.
void add_common(std::vector<Rule>& rules) {
    add(rules, {SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(close),
                SCMP_SYS(fstat), SCMP_SYS(lseek), SCMP_SYS(munmap), SCMP_SYS(madvise), SCMP_SYS(brk),
                SCMP_SYS(mremap), SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(nanosleep),
                SCMP_SYS(clock_nanosleep), SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
                SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
                SCMP_SYS(restart_syscall), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(exit),
                SCMP_SYS(exit_group)});
    // AddressSanitizer removes a thread's alternate signal stack when the
    // thread ends (sanitized builds only; harmless: this thread's own).
    add(rules, {SCMP_SYS(sigaltstack)});
#ifdef SKIFF_SANITIZED
    // The sanitizer runtime makes a pipe on vCPU threads (seen in the
    // sanitized kvm tests; its memory-accessibility probe works through
    // one). Sanitized builds (-DSKIFF_SANITIZE=ON) only.
    add(rules, {SCMP_SYS(pipe2)});
#endif
    // glibc's fstat() (stdio's first write to a FILE) is fstatat(fd, "",
    // AT_EMPTY_PATH).
    rules.push_back(Rule{SCMP_SYS(newfstatat), {arg(3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH)}});
    for (int syscall : {SCMP_SYS(mmap), SCMP_SYS(mprotect)}) {
        rules.push_back(Rule{syscall, {arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)}});
    }
    for (int signal : {SIGRTMIN, SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE}) {
        rules.push_back(Rule{SCMP_SYS(tgkill), {arg(2, SCMP_CMP_EQ, static_cast<scmp_datum_t>(signal))}});
    }
}

// What a device may need on any run-time thread: eventfds and timers it
// creates on activation (rate limiters, interrupt relays), the event loop's
// epoll set, VFIO config space (pread/pwrite on the device fd).
void add_device_work(std::vector<Rule>& rules) {
    add(rules, {SCMP_SYS(eventfd2), SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime), SCMP_SYS(epoll_ctl),
                SCMP_SYS(pread64), SCMP_SYS(pwrite64)});
    add_ioctls(rules, device_ioctls());
}

// The crash clean-up handler (net/created_links.h) may run on any thread:
// it send()s the prepared RTM_DELLINK requests on the crash socket
// CreatedLinks opened with the first macvtap skiff created (before the
// filters are built: Machine::build creates the macvtaps). glibc's send()
// is sendto(fd, buf, len, flags, NULL, 0): allowed on that fd only, where
// the kind does not already allow sendto on any fd (the event loop, for
// its own rtnetlink socket; the API thread, for its connections).
void add_crash_clean_up(std::vector<Rule>& rules) {
    int crash_socket = net::CreatedLinks::crash_socket();
    if (crash_socket < 0) {
        return;
    }
    bool any_fd = std::any_of(rules.begin(), rules.end(), [](const Rule& rule) {
        return rule.syscall == SCMP_SYS(sendto) && rule.conditions.empty();
    });
    if (!any_fd) {
        rules.push_back(Rule{SCMP_SYS(sendto), {arg(0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(crash_socket))}});
    }
}

// The main thread, from the time the VM runs: waiting for stop signals
// (sigtimedwait) and the VM's end; then the clean-up at exit. Tearing the
// devices down unmaps VFIO DMA and gives functions back to their drivers
// through sysfs (open without O_CREAT, stat, readlink, directory reads),
// deletes macvtaps over rtnetlink, and the API server's socket file goes.
// The vfio label (L1 VM, --vfio-edu) is what exercises the VFIO part.
void add_main_thread(std::vector<Rule>& rules) {
    add(rules, {SCMP_SYS(rt_sigtimedwait), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
                SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
                SCMP_SYS(getdents64), SCMP_SYS(shutdown), SCMP_SYS(sendto), SCMP_SYS(recvfrom)});
    rules.push_back(Rule{SCMP_SYS(openat), {arg(2, SCMP_CMP_MASKED_EQ, O_CREAT, 0)}});
    rules.push_back(Rule{SCMP_SYS(socket), {arg(0, SCMP_CMP_EQ, AF_NETLINK), arg(2, SCMP_CMP_EQ, NETLINK_ROUTE)}});
    // VFIO's tear-down: DMA unmapped, the group taken off KVM's VFIO device
    // (KVM_DEV_VFIO_GROUP_DEL, found by vfio_edu in the L1 VM).
    add_ioctls(rules, {VFIO_IOMMU_UNMAP_DMA, KVM_SET_DEVICE_ATTR});
}

std::vector<Rule> rules_for(ThreadKind kind) {
    std::vector<Rule> rules;
    add_common(rules);
    add_device_work(rules);
    switch (kind) {
        case ThreadKind::Vcpu:
            add_ioctls(rules, vcpu_ioctls());
            // A guest reading the MSI-X pending bits of a masked vector that
            // vhost or VFIO signal directly: pci::Msix::is_pending looks at
            // the eventfd with a poll that does not wait (found by the
            // hostile test guest).
            rules.push_back(Rule{SCMP_SYS(poll), {arg(2, SCMP_CMP_EQ, 0)}});
            break;
        case ThreadKind::EventLoop:
            // Waiting, the console's terminal, and the resource report at
            // the end (mincore on guest memory).
            add(rules, {SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(mincore)});
            rules.push_back(Rule{SCMP_SYS(poll), {arg(2, SCMP_CMP_EQ, 0)}});  // as on a vcpu: Msix::is_pending
            add_ioctls(rules, terminal_ioctls());
            // Machine::run() deletes the macvtaps skiff created when the VM
            // ends, on this thread: an rtnetlink socket, one request, its ack.
            rules.push_back(Rule{SCMP_SYS(socket),
                                 {arg(0, SCMP_CMP_EQ, AF_NETLINK), arg(2, SCMP_CMP_EQ, NETLINK_ROUTE)}});
            add(rules, {SCMP_SYS(sendto), SCMP_SYS(recvfrom)});
            break;
        case ThreadKind::Api:
            // The API server's loop (vmm/api/http_server.cpp): poll (ppoll
            // where glibc makes poll() one), accept4 on the listening unix
            // socket, recv and send (recvfrom, sendto) on its connections,
            // shutdown for a lingering close; read and close are common.
            // The metrics thread writes to its file.
            add(rules, {SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
                        SCMP_SYS(shutdown)});
            break;
        case ThreadKind::Main:
            add_main_thread(rules);
            break;
    }
    add_crash_clean_up(rules);
    return rules;
}

// The SIGSYS handler's names, resolved before any filter is loaded.
constexpr int kNamedSyscalls = 512;
std::array<std::array<char, 28>, kNamedSyscalls> g_names{};
std::once_flag g_names_once;

void prepare_names() {
    std::call_once(g_names_once, [] {
        for (int nr = 0; nr < kNamedSyscalls; ++nr) {
            char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
            if (name != nullptr) {
                std::strncpy(g_names[static_cast<size_t>(nr)].data(), name, g_names[0].size() - 1);
                std::free(name);
            }
        }
    });
}

std::atomic<bool> g_armed{false};
// The filter on this thread, for the SIGSYS line (-1: none).
thread_local int t_kind = -1;
std::array<std::atomic<bool>, 4> g_logged{};

// Async-signal-safe from here to the end of on_forbidden_call.
void append(char* line, size_t capacity, size_t& used, const char* text) {
    while (*text != '\0' && used + 1 < capacity) {
        line[used++] = *text++;
    }
}

void append_number(char* line, size_t capacity, size_t& used, long value) {
    char digits[24];
    size_t count = 0;
    unsigned long magnitude = value < 0 ? static_cast<unsigned long>(-value) : static_cast<unsigned long>(value);
    do {
        digits[count++] = static_cast<char>('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0 && count < sizeof(digits));
    if (value < 0) {
        append(line, capacity, used, "-");
    }
    while (count > 0 && used + 1 < capacity) {
        line[used++] = digits[--count];
    }
}

const char* kind_text(int kind) {
    switch (kind) {
        case static_cast<int>(ThreadKind::Vcpu): return "vcpu";
        case static_cast<int>(ThreadKind::EventLoop): return "event-loop";
        case static_cast<int>(ThreadKind::Api): return "api";
        case static_cast<int>(ThreadKind::Main): return "main";
        default: return "unfiltered";
    }
}

void on_forbidden_call(int, siginfo_t* info, void*) {
    char line[256];
    size_t used = 0;
    append(line, sizeof(line), used, "skiff: seccomp: ");
    append(line, sizeof(line), used, kind_text(t_kind));
    append(line, sizeof(line), used, " thread made forbidden system call ");
    int nr = info->si_syscall;
    append_number(line, sizeof(line), used, nr);
    append(line, sizeof(line), used, " (");
    const char* name = nr >= 0 && nr < kNamedSyscalls && g_names[static_cast<size_t>(nr)][0] != '\0'
                           ? g_names[static_cast<size_t>(nr)].data()
                           : "unknown";
    append(line, sizeof(line), used, name);
    append(line, sizeof(line), used, "): skiff is stopping; run with --no-seccomp to debug\n");
    [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line, used);
    // The system call itself, not _exit(): sanitizer runtimes intercept
    // _exit (LeakSanitizer's check would make more forbidden calls).
    ::syscall(SYS_exit_group, static_cast<int>(ExitStatus::SeccompViolation));
}

Result<void> install_handler() {
    struct sigaction action {};
    action.sa_sigaction = on_forbidden_call;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO;
    if (::sigaction(SIGSYS, &action, nullptr) != 0) {
        return errno_error("seccomp: installing the SIGSYS handler");
    }
    return {};
}

// Frees a libseccomp context on every path.
struct Context {
    scmp_filter_ctx handle = seccomp_init(SCMP_ACT_TRAP);
    ~Context() {
        if (handle != nullptr) {
            seccomp_release(handle);
        }
    }
};

}  // namespace

std::string_view kind_name(ThreadKind kind) { return kind_text(static_cast<int>(kind)); }

void arm(bool enabled) {
    if (enabled) {
        prepare_names();
        auto installed = install_handler();
        if (!installed.ok()) {
            spdlog::warn("{}", installed.error().message);
        }
    }
    g_armed.store(enabled, std::memory_order_release);
}

bool armed() { return g_armed.load(std::memory_order_acquire); }

Result<Program> build_filter(ThreadKind kind) {
    prepare_names();
    Context context;
    if (context.handle == nullptr) {
        return Error{"seccomp: libseccomp could not create a filter"};
    }
    // x32 calls and foreign architectures trap too, with the same message.
    if (int error = seccomp_attr_set(context.handle, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP); error < 0) {
        return errno_error("seccomp: setting the bad-architecture action", -error);
    }
    for (const Rule& rule : rules_for(kind)) {
        int error = seccomp_rule_add_array(context.handle, SCMP_ACT_ALLOW, rule.syscall,
                                           static_cast<unsigned>(rule.conditions.size()), rule.conditions.data());
        if (error < 0) {
            char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, rule.syscall);
            Error failed = errno_error(fmt::format("seccomp: adding system call {} to the {} filter",
                                                   name != nullptr ? name : "?", kind_name(kind)),
                                       -error);
            std::free(name);
            return failed;
        }
    }
    // A netlink socket() is refused quietly (EPERM) on the vcpu and api
    // threads, any other socket() traps. The crash clean-up handler
    // (net/created_links.h) opens one only for a request that cannot go on
    // its crash socket (that socket could not be opened, or it belongs to
    // another network namespace): refused quietly, a crash there still ends
    // in its own signal, and that interface is left behind.
    // (The event loop and the main thread may open an rtnetlink socket
    // themselves: see rules_for.)
    if (int error = kind == ThreadKind::EventLoop || kind == ThreadKind::Main
                        ? 0
                        : seccomp_rule_add(context.handle, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                                           arg(0, SCMP_CMP_EQ, AF_NETLINK));
        error < 0) {
        return errno_error("seccomp: adding the netlink socket rule", -error);
    }

    UniqueFd memory(static_cast<int>(::syscall(SYS_memfd_create, "skiff-seccomp", MFD_CLOEXEC)));
    if (!memory.valid()) {
        return errno_error("seccomp: memfd_create for the filter program");
    }
    if (int error = seccomp_export_bpf(context.handle, memory.get()); error < 0) {
        return errno_error("seccomp: exporting the filter program", -error);
    }
    off_t size = ::lseek(memory.get(), 0, SEEK_END);
    if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
        return Error::format("seccomp: the exported filter program has a bad size ({} bytes)", size);
    }
    Program program;
    program.kind = kind;
    program.instructions.resize(static_cast<size_t>(size) / sizeof(sock_filter));
    if (::pread(memory.get(), program.instructions.data(), static_cast<size_t>(size), 0) != size) {
        return errno_error("seccomp: reading the exported filter program");
    }
    return program;
}

Result<void> load_filter(const Program& program) {
    TRY(install_handler());
    t_kind = static_cast<int>(program.kind);
    sock_fprog fprog{};
    fprog.len = static_cast<unsigned short>(program.instructions.size());
    fprog.filter = const_cast<sock_filter*>(program.instructions.data());
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return errno_error("seccomp: PR_SET_NO_NEW_PRIVS");
    }
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
        t_kind = -1;
        return errno_error(fmt::format("seccomp: loading the {} filter (the kernel refused it; --no-seccomp runs "
                                       "without)",
                                       kind_name(program.kind)));
    }
    return {};
}

Result<void> install_filter(ThreadKind kind) {
    Program program = TRY(build_filter(kind));
    TRY(load_filter(program));
    if (!g_logged[static_cast<size_t>(kind)].exchange(true)) {
        spdlog::debug("seccomp: {} filter installed ({} system calls allowed)", kind_name(kind),
                      allow_list_size(kind));
    }
    return {};
}

Result<void> install_if_armed(ThreadKind kind) {
    thread_local bool installed = false;
    if (installed || !armed()) {
        return {};
    }
#ifdef SKIFF_SANITIZED
    if (kind == ThreadKind::Main) {
        return {};  // LeakSanitizer's check at exit runs here (seccomp.h)
    }
#endif
    installed = true;  // one attempt: a failure is reported once
    return install_filter(kind);
}

std::size_t allow_list_size(ThreadKind kind) {
    std::set<int> syscalls;
    for (const Rule& rule : rules_for(kind)) {
        syscalls.insert(rule.syscall);
    }
    return syscalls.size();
}

}  // namespace skiff::seccomp
