#include "devices/vfio/vfio_host.h"

#include "net/created_links.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace skiff::vfio {

namespace {

class SystemVfioHost final : public VfioHost {
public:
    explicit SystemVfioHost(std::string root) : root_(std::move(root)) {}

    bool exists(std::string_view path) const override {
        std::error_code error;
        return std::filesystem::exists(full(path), error);
    }

    Result<std::string> read_file(std::string_view path) const override {
        UniqueFd fd(::open(full(path).c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd.valid()) {
            return errno_error(fmt::format("opening {}", full(path)));
        }
        std::string text;
        char buffer[4096];
        for (;;) {
            ssize_t got = ::read(fd.get(), buffer, sizeof(buffer));
            if (got < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return errno_error(fmt::format("reading {}", full(path)));
            }
            if (got == 0) {
                break;
            }
            text.append(buffer, static_cast<size_t>(got));
        }
        while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) {
            text.pop_back();
        }
        return text;
    }

    Result<void> write_file(std::string_view path, std::string_view value) override {
        // sysfs takes one write(2) per attribute.
        UniqueFd fd(::open(full(path).c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd.valid()) {
            return errno_error(fmt::format("opening {}", full(path)));
        }
        ssize_t written = ::write(fd.get(), value.data(), value.size());
        if (written < 0) {
            return errno_error(fmt::format("writing '{}' to {}", value, full(path)));
        }
        return {};
    }

    Result<std::string> read_link(std::string_view path) const override {
        std::error_code error;
        auto target = std::filesystem::read_symlink(full(path), error);
        if (error) {
            return Error::format("reading link {}: {}", full(path), error.message());
        }
        return target.string();
    }

    Result<std::vector<std::string>> list_directory(std::string_view path) const override {
        std::error_code error;
        std::vector<std::string> names;
        for (auto iterator = std::filesystem::directory_iterator(full(path), error);
             !error && iterator != std::filesystem::directory_iterator(); iterator.increment(error)) {
            names.push_back(iterator->path().filename().string());
        }
        if (error) {
            return Error::format("listing {}: {}", full(path), error.message());
        }
        std::ranges::sort(names);
        return names;
    }

    Result<UniqueFd> open_device(std::string_view path) override {
        UniqueFd fd(::open(full(path).c_str(), O_RDWR | O_CLOEXEC));
        if (!fd.valid()) {
            return errno_error(fmt::format("opening {}", full(path)));
        }
        return fd;
    }

    int ioctl(int fd, unsigned long request, void* argument) override {
        int result = ::ioctl(fd, request, argument);
        return result < 0 ? -errno : result;
    }

    Result<void> pread(int fd, std::span<uint8_t> data, uint64_t offset) override {
        ssize_t got = ::pread(fd, data.data(), data.size(), static_cast<off_t>(offset));
        if (got != static_cast<ssize_t>(data.size())) {
            return got < 0 ? errno_error(fmt::format("VFIO read of {} bytes at {:#x}", data.size(), offset))
                           : Error::format("VFIO read of {} bytes at {:#x}: short ({})", data.size(), offset, got);
        }
        return {};
    }

    Result<void> pwrite(int fd, std::span<const uint8_t> data, uint64_t offset) override {
        ssize_t put = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
        if (put != static_cast<ssize_t>(data.size())) {
            return put < 0 ? errno_error(fmt::format("VFIO write of {} bytes at {:#x}", data.size(), offset))
                           : Error::format("VFIO write of {} bytes at {:#x}: short ({})", data.size(), offset, put);
        }
        return {};
    }

    Result<MemoryMapping> mmap(int fd, uint64_t size, uint64_t offset) override {
        return MemoryMapping::shared_file(fd, size, static_cast<off_t>(offset));
    }

    Result<uint32_t> interface_index(std::string_view name) const override {
        std::string copy(name);
        unsigned index = ::if_nametoindex(copy.c_str());
        if (index == 0) {
            return errno_error(fmt::format("interface {}", name));
        }
        return static_cast<uint32_t>(index);
    }

    Result<net::NetlinkAnswer> netlink(const net::NetlinkMessage& message) override {
        return net::netlink_query(message);
    }
    std::optional<size_t> remember_for_crash(const net::NetlinkMessage& message) override {
        return net::CreatedLinks::remember(message);
    }
    void forget_for_crash(size_t slot) override { net::CreatedLinks::forget(slot); }

private:
    [[nodiscard]] std::string full(std::string_view path) const {
        std::string result = root_;
        if (result.empty() || result.back() != '/') {
            result += '/';
        }
        result += path;
        return result;
    }

    std::string root_;
};

}  // namespace

std::shared_ptr<VfioHost> make_system_vfio_host(std::string root) {
    return std::make_shared<SystemVfioHost>(std::move(root));
}

}  // namespace skiff::vfio
