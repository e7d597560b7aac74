// Each thread kind's seccomp filter, loaded in a forked child through the
// functions skiff uses (build_filter in the parent, load_filter in the
// child: the child only makes system calls, no allocation): a call the kind
// never needs ends the child with exit status 6 and one stderr line naming
// the kind and the call; calls it needs pass (against bad fds: EBADF, not
// SIGSYS).
#include "cli_parse.h"
#include "net/created_links.h"
#include "net/netlink.h"
#include "vmm/cli.h"
#include "vmm/exit_status.h"
#include "vmm/seccomp.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace {

using skiff::seccomp::ThreadKind;

struct ChildEnd {
    bool exited = false;
    int status = -1;  // exit status, or the signal that ended it
    std::string stderr_text;
};

// In the parent after fork(): what the child wrote to `pipe_fds[1]` (its
// stderr) and how it ended.
ChildEnd wait_for_child(pid_t pid, const int (&pipe_fds)[2]) {
    ::close(pipe_fds[1]);
    ChildEnd end;
    char buffer[512];
    ssize_t got;
    while ((got = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0) {
        end.stderr_text.append(buffer, static_cast<size_t>(got));
    }
    ::close(pipe_fds[0]);
    int wait_status = 0;
    REQUIRE(::waitpid(pid, &wait_status, 0) == pid);
    end.exited = WIFEXITED(wait_status);
    end.status = end.exited ? WEXITSTATUS(wait_status) : WTERMSIG(wait_status);
    return end;
}

// Forks; the child loads `kind`'s filter, runs `call` and exits with what
// it returns. Only system calls happen in the child after fork().
ChildEnd run_filtered(ThreadKind kind, int (*call)()) {
    auto program = skiff::seccomp::build_filter(kind);
    REQUIRE(program.ok());
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(pipe_fds[1], STDERR_FILENO);
        if (!skiff::seccomp::load_filter(*program).ok()) {
            ::_exit(100);
        }
        ::_exit(call());
    }
    return wait_for_child(pid, pipe_fds);
}

constexpr int kSeccompExit = static_cast<int>(skiff::ExitStatus::SeccompViolation);

std::string forbidden_line(const char* kind, long nr, const char* name) {
    return std::string("skiff: seccomp: ") + kind + " thread made forbidden system call " + std::to_string(nr) + " (" +
           name + "): skiff is stopping; run with --no-seccomp to debug\n";
}

void check_refused(ThreadKind kind, int (*call)(), long nr, const char* name) {
    ChildEnd end = run_filtered(kind, call);
    INFO("stderr: " << end.stderr_text);
    REQUIRE(end.exited);
    CHECK(end.status == kSeccompExit);
    CHECK(end.stderr_text == forbidden_line(std::string(skiff::seccomp::kind_name(kind)).c_str(), nr, name));
}

void check_allowed(ThreadKind kind, int (*call)()) {
    ChildEnd end = run_filtered(kind, call);
    INFO("stderr: " << end.stderr_text);
    REQUIRE(end.exited);
    CHECK(end.status == 0);
    CHECK(end.stderr_text.find("forbidden") == std::string::npos);
}

int open_a_file() { return ::open("/etc/hostname", O_RDONLY | O_CLOEXEC) >= 0 ? 1 : 2; }
int inet_socket() { return ::socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 1 : 2; }
int run_execve() {
    char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
    ::execve("/bin/true", argv, nullptr);
    return 2;
}
int kvm_run_on_bad_fd() { return ::ioctl(-1, KVM_RUN, 0) < 0 && errno == EBADF ? 0 : 1; }
int terminal_ioctl_on_bad_fd() {
    termios mode{};
    return ::ioctl(-1, TCGETS, &mode) < 0 && errno == EBADF ? 0 : 1;
}
// pci::Msix::is_pending: a poll that does not wait (the guest read the
// pending bits); one that waits is never made there.
int poll_without_waiting() {
    pollfd entry{-1, POLLIN, 0};
    return ::poll(&entry, 1, 0) == 0 ? 0 : 1;
}
int poll_waiting() {
    pollfd entry{-1, POLLIN, 0};
    return ::poll(&entry, 1, 1) == 0 ? 0 : 1;
}
int write_to_stdout() { return ::write(STDOUT_FILENO, "", 0) == 0 ? 0 : 1; }
int epoll_wait_on_bad_fd() {
    epoll_event event{};
    return ::epoll_wait(-1, &event, 1, 0) < 0 && errno == EBADF ? 0 : 1;
}
int accept_on_bad_fd() { return ::accept4(-1, nullptr, nullptr, SOCK_CLOEXEC) < 0 && errno == EBADF ? 0 : 1; }
// The crash clean-up handler's netlink socket: refused with EPERM, no trap.
int netlink_socket() {
    return ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) < 0 && errno == EPERM ? 0 : 1;
}
// The event loop deletes created macvtaps when the VM ends: rtnetlink only.
int read_a_file() { return ::open("/etc/hostname", O_RDONLY | O_CLOEXEC) >= 0 ? 0 : 1; }
int create_a_file() {
    return ::open("/tmp/skiff-seccomp-main-create", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 ? 1 : 2;
}
int sigtimedwait_without_waiting() {
    sigset_t none;
    sigemptyset(&none);
    sigaddset(&none, SIGUSR2);
    const timespec no_wait{0, 0};
    return ::sigtimedwait(&none, nullptr, &no_wait) < 0 && errno == EAGAIN ? 0 : 1;
}
int rtnetlink_socket_opens() { return ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) >= 0 ? 0 : 1; }
int generic_netlink_socket() { return ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC) >= 0 ? 0 : 1; }
int executable_mapping() {
    void* mapped = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return mapped == MAP_FAILED ? 2 : 1;
}
int plain_mapping() {
    void* mapped = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return mapped != MAP_FAILED && ::munmap(mapped, 4096) == 0 ? 0 : 1;
}

// The crash clean-up (net/created_links.h) on a vCPU thread, in a forked
// child: CreatedLinks opens its crash socket for a harmless request (an
// RTM_DELLINK for an ifindex that does not exist, in a network namespace of
// the child's own when it may make one), then the vcpu filter is loaded and
// `after_filter` runs with an fd of a socket pair made before the filter.
ChildEnd run_crash_clean_up_under_vcpu_filter(int (*after_filter)(int other_fd)) {
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(pipe_fds[1], STDERR_FILENO);
        (void)::unshare(CLONE_NEWNET);  // not as root: the kernel answers EPERM instead of ENODEV
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) != 0) {
            ::_exit(101);
        }
        skiff::net::NetlinkMessage request(RTM_DELLINK, 0);
        ifinfomsg info{};
        info.ifi_family = AF_UNSPEC;
        info.ifi_index = 0x7ffffff0;  // no such interface
        request.append_header(info);
        auto slot = skiff::net::CreatedLinks::remember(request);
        if (!slot || skiff::net::CreatedLinks::crash_socket() < 0) {
            ::_exit(102);
        }
        auto program = skiff::seccomp::build_filter(ThreadKind::Vcpu);
        if (!program.ok() || !skiff::seccomp::load_filter(*program).ok()) {
            ::_exit(100);
        }
        ::_exit(after_filter(pair[0]));
    }
    return wait_for_child(pid, pipe_fds);
}

// Sends the request as the crash handler does; 0 when exactly it went out
// whole and the kernel answered it (ENODEV; EPERM when not root) into the
// crash socket, read with the calls a vcpu thread may make.
int crash_clean_up_sends() {
    if (skiff::net::CreatedLinks::send_all_for_crash() != 1) {
        return 10;
    }
    int fd = skiff::net::CreatedLinks::crash_socket();
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, 0) != 1) {
        return 11;  // no answer: nothing reached the kernel
    }
    alignas(nlmsghdr) char answer[1024];
    ssize_t got = ::read(fd, answer, sizeof(answer));
    if (got < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr)))) {
        return 12;
    }
    nlmsghdr header;
    std::memcpy(&header, answer, sizeof(header));
    nlmsgerr error;
    std::memcpy(&error, answer + NLMSG_HDRLEN, sizeof(error));
    if (header.nlmsg_type != NLMSG_ERROR || error.msg.nlmsg_type != RTM_DELLINK) {
        return 13;
    }
    return error.error == -ENODEV || error.error == -EPERM ? 0 : 14;
}

// Any other fd: sendto traps as before.
int sendto_on_another_fd(int other_fd) {
    return ::sendto(other_fd, "x", 1, 0, nullptr, 0) == 1 ? 1 : 2;
}

}  // namespace

TEST_CASE("vcpu filter: KVM_RUN and writes pass; opening a file or a socket stops skiff", "[seccomp]") {
    check_allowed(ThreadKind::Vcpu, kvm_run_on_bad_fd);
    check_allowed(ThreadKind::Vcpu, write_to_stdout);
    check_allowed(ThreadKind::Vcpu, plain_mapping);
    check_allowed(ThreadKind::Vcpu, poll_without_waiting);
    check_refused(ThreadKind::Vcpu, poll_waiting, SYS_poll, "poll");
    check_refused(ThreadKind::Vcpu, open_a_file, SYS_openat, "openat");
    check_refused(ThreadKind::Vcpu, inet_socket, SYS_socket, "socket");
    check_refused(ThreadKind::Vcpu, terminal_ioctl_on_bad_fd, SYS_ioctl, "ioctl");
}

TEST_CASE("event-loop filter: epoll and the terminal pass; KVM_RUN or a socket stops skiff", "[seccomp]") {
    check_allowed(ThreadKind::EventLoop, epoll_wait_on_bad_fd);
    check_allowed(ThreadKind::EventLoop, terminal_ioctl_on_bad_fd);
    check_refused(ThreadKind::EventLoop, kvm_run_on_bad_fd, SYS_ioctl, "ioctl");
    check_refused(ThreadKind::EventLoop, inet_socket, SYS_socket, "socket");
    check_refused(ThreadKind::EventLoop, open_a_file, SYS_openat, "openat");
}

TEST_CASE("api filter: accept passes; execve or KVM_RUN stops skiff", "[seccomp]") {
    check_allowed(ThreadKind::Api, accept_on_bad_fd);
    check_refused(ThreadKind::Api, run_execve, SYS_execve, "execve");
    check_refused(ThreadKind::Api, kvm_run_on_bad_fd, SYS_ioctl, "ioctl");
    check_refused(ThreadKind::Api, epoll_wait_on_bad_fd, SYS_epoll_wait, "epoll_wait");
}

TEST_CASE("main filter: waiting for signals and sysfs reads pass; creating files, execve or KVM_RUN stops skiff",
          "[seccomp]") {
    check_allowed(ThreadKind::Main, sigtimedwait_without_waiting);
    check_allowed(ThreadKind::Main, read_a_file);
    check_refused(ThreadKind::Main, create_a_file, SYS_openat, "openat");
    check_refused(ThreadKind::Main, run_execve, SYS_execve, "execve");
    check_refused(ThreadKind::Main, kvm_run_on_bad_fd, SYS_ioctl, "ioctl");
    check_refused(ThreadKind::Main, inet_socket, SYS_socket, "socket");
}

TEST_CASE("every filter: executable mappings stop skiff; netlink sockets fail with EPERM but on the event loop",
          "[seccomp]") {
    for (ThreadKind kind : {ThreadKind::Vcpu, ThreadKind::EventLoop, ThreadKind::Api, ThreadKind::Main}) {
        INFO("kind " << skiff::seccomp::kind_name(kind));
        if (kind == ThreadKind::EventLoop || kind == ThreadKind::Main) {
            check_allowed(kind, rtnetlink_socket_opens);
            check_refused(kind, generic_netlink_socket, SYS_socket, "socket");
        } else {
            check_allowed(kind, netlink_socket);
        }
        check_refused(kind, executable_mapping, SYS_mmap, "mmap");
    }
}

TEST_CASE("vcpu filter: the crash clean-up sends on the crash socket; sendto on any other fd stops skiff",
          "[seccomp][macvtap]") {
    ChildEnd sent = run_crash_clean_up_under_vcpu_filter([](int) { return crash_clean_up_sends(); });
    INFO("stderr: " << sent.stderr_text);
    REQUIRE(sent.exited);
    CHECK(sent.status == 0);
    CHECK(sent.stderr_text.find("forbidden") == std::string::npos);

    ChildEnd other = run_crash_clean_up_under_vcpu_filter(sendto_on_another_fd);
    INFO("stderr: " << other.stderr_text);
    REQUIRE(other.exited);
    CHECK(other.status == kSeccompExit);
    CHECK(other.stderr_text == forbidden_line("vcpu", SYS_sendto, "sendto"));
}

TEST_CASE("allow-list sizes and exit status 6", "[seccomp]") {
    for (ThreadKind kind : {ThreadKind::Vcpu, ThreadKind::EventLoop, ThreadKind::Api, ThreadKind::Main}) {
        INFO("kind " << skiff::seccomp::kind_name(kind));
        CHECK(skiff::seccomp::allow_list_size(kind) > 20);
        CHECK(skiff::seccomp::allow_list_size(kind) < 80);
    }
    CHECK(skiff::describe(skiff::ExitStatus::SeccompViolation) == "forbidden system call");
}

TEST_CASE("The no-seccomp flag turns the filters off in both modes", "[seccomp][cli]") {
    const auto parse = &skiff::test::parse_words;
    auto on = parse({"run"});
    REQUIRE(on.ok());
    CHECK(on.value()->vm.seccomp);
    auto off = parse({"run", "--no-seccomp"});
    REQUIRE(off.ok());
    CHECK_FALSE(off.value()->vm.seccomp);
    auto api_on = parse({"--api-sock", "/tmp/x.sock"});
    REQUIRE(api_on.ok());
    CHECK_FALSE(api_on.value()->api.no_seccomp);
    auto api_off = parse({"--no-seccomp", "--api-sock", "/tmp/x.sock"});
    REQUIRE(api_off.ok());
    CHECK(api_off.value()->api.no_seccomp);
}
