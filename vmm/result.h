// Result<T>: the return type of every operation a guest, a user or the host
// can make fail. Errors carry a message that names the cause and, where one
// exists, the fix. Exceptions are not used on these paths.
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>
#include <variant>

namespace skiff {

struct Error {
    std::string message;

    template <typename... Args>
    static Error format(fmt::format_string<Args...> text, Args&&... args) {
        return Error{fmt::format(text, std::forward<Args>(args)...)};
    }

    // Prefixes the message with context: "loading kernel: <message>".
    [[nodiscard]] Error context(std::string_view what) const {
        return Error{fmt::format("{}: {}", what, message)};
    }
};

// Error built from errno after a failed system call.
Error errno_error(std::string_view what);
Error errno_error(std::string_view what, int saved_errno);

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Error error) : state_(std::move(error)) {}  // NOLINT

    [[nodiscard]] bool ok() const { return std::holds_alternative<T>(state_); }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<T>(state_); }
    const T& value() const& { return std::get<T>(state_); }
    T&& value() && { return std::get<T>(std::move(state_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { return std::get<Error>(state_); }
    Error&& release_error() { return std::get<Error>(std::move(state_)); }

    // The same result, with `what: ` before the message of an error.
    Result context_error(std::string_view what) && {
        if (ok()) {
            return std::move(*this);
        }
        return error().context(what);
    }

private:
    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

    [[nodiscard]] bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    void value() const {}
    const Error& error() const { return error_; }
    Error&& release_error() { return std::move(error_); }

    Result context_error(std::string_view what) && {
        if (ok()) {
            return {};
        }
        return error().context(what);
    }

private:
    Error error_;
    bool failed_ = false;
};

}  // namespace skiff

// TRY(expr): evaluates a Result; on error returns it from the enclosing
// function, otherwise yields the value (GNU statement expression, as in
// SerenityOS). Works for Result<void> too.
#define TRY(expression)                                      \
    ({                                                       \
        auto _skiff_result = (expression);                   \
        if (!_skiff_result.ok()) {                           \
            return _skiff_result.release_error();            \
        }                                                    \
        std::move(_skiff_result).value();                    \
    })
