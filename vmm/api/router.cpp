#include "vmm/api/router.h"

#include "vmm/api/json_model.h"
#include "vmm/api/json_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <exception>
#include <vector>

namespace skiff::api {

namespace {

// The Firecracker version whose API skiff follows: clients that read GET
// /version to decide which requests they may send (SDKs gate features on
// it) see the API level skiff accepts; skiff_version is skiff's own.
constexpr std::string_view kFirecrackerApiVersion = "1.7.0";

// Paths in error messages are cut to this many characters.
constexpr size_t kQuotedPathLength = 128;

constexpr std::string_view kInterfacesPrefix = "/network-interfaces/";

Response json_response(const nlohmann::json& value) { return Response{kStatusOk, dump_json(value), {}}; }

Response status_response(const Status& status) {
    return status.ok() ? Response{} : fault(kStatusBadRequest, status.message());
}

// Runs `apply` on a parsed body, or answers 400 with the parse error.
template <typename T, typename Apply>
Response with_parsed(Result<T> parsed, Apply apply) {
    if (!parsed.ok()) {
        return fault(kStatusBadRequest, parsed.error().message);
    }
    return apply(*parsed);
}

Response check_body_id(std::string_view body_id, std::string_view path_id) {
    if (body_id != path_id) {
        return fault(kStatusBadRequest,
                     fmt::format("the body's iface_id \"{}\" differs from the path's \"{}\": they must be the same",
                                 printable_text(body_id), printable_text(path_id)));
    }
    return Response{};
}

using Handler = Response (*)(Controller&, std::string_view id, std::string_view body);

struct Route {
    std::string_view path;  // "/network-interfaces/" takes an id after it
    std::string_view method;
    Handler handler;
};

Response get_instance_info(Controller& controller, std::string_view, std::string_view) {
    return json_response(instance_info_json(controller.id(), controller.state()));
}

Response get_version(Controller&, std::string_view, std::string_view) {
    return json_response({{"firecracker_version", kFirecrackerApiVersion}, {"skiff_version", SKIFF_VERSION}});
}

Response get_vm_config(Controller& controller, std::string_view, std::string_view) {
    return json_response(to_json(controller.resources()));
}

Response put_boot_source(Controller& controller, std::string_view, std::string_view body) {
    return with_parsed(parse_boot_source(body),
                       [&](const BootSource& source) { return status_response(controller.set_boot_source(source)); });
}

Response get_machine_config(Controller& controller, std::string_view, std::string_view) {
    return json_response(to_json(controller.resources().machine_config));
}

Response put_machine_config(Controller& controller, std::string_view, std::string_view body) {
    return with_parsed(parse_machine_config(body), [&](const MachineConfig& config) {
        return status_response(controller.set_machine_config(config));
    });
}

Response patch_machine_config(Controller& controller, std::string_view, std::string_view body) {
    return with_parsed(apply_machine_config_patch(controller.resources().machine_config, body),
                       [&](const MachineConfig& config) {
                           return status_response(controller.set_machine_config(config));
                       });
}

Response put_network_interface(Controller& controller, std::string_view id, std::string_view body) {
    return with_parsed(parse_network_interface(body), [&](const NetworkInterface& interface) {
        Response mismatch = check_body_id(interface.iface_id, id);
        return mismatch.status != kStatusNoContent ? mismatch
                                                    : status_response(controller.set_network_interface(interface));
    });
}

Response patch_network_interface(Controller& controller, std::string_view id, std::string_view body) {
    return with_parsed(parse_network_interface_update(body), [&](const NetworkInterfaceUpdate& update) {
        Response mismatch = check_body_id(update.iface_id, id);
        return mismatch.status != kStatusNoContent ? mismatch
                                                    : status_response(controller.update_network_interface(update));
    });
}

Response put_action(Controller& controller, std::string_view, std::string_view body) {
    return with_parsed(parse_action(body), [&](ActionType action) {
        switch (action) {
            case ActionType::InstanceStart:
                return status_response(controller.start());
            case ActionType::SendCtrlAltDel:
                return status_response(controller.send_ctrl_alt_del());
            case ActionType::FlushMetrics:
                return status_response(controller.flush_metrics());
        }
        return fault(kStatusBadRequest, "unknown action");
    });
}

Response patch_vm(Controller& controller, std::string_view, std::string_view body) {
    return with_parsed(parse_vm_state_patch(body), [&](RequestedVmState state) {
        return status_response(state == RequestedVmState::Paused ? controller.pause() : controller.resume());
    });
}

Response put_logger(Controller& controller, std::string_view, std::string_view body) {
    return with_parsed(parse_logger(body),
                       [&](const LoggerConfig& logger) { return status_response(controller.set_logger(logger)); });
}

Response put_metrics(Controller& controller, std::string_view, std::string_view body) {
    return with_parsed(parse_metrics(body),
                       [&](const MetricsConfig& metrics) { return status_response(controller.set_metrics(metrics)); });
}

constexpr std::array kRoutes{
    Route{"/", "GET", get_instance_info},
    Route{"/version", "GET", get_version},
    Route{"/vm/config", "GET", get_vm_config},
    Route{"/boot-source", "PUT", put_boot_source},
    Route{"/machine-config", "GET", get_machine_config},
    Route{"/machine-config", "PUT", put_machine_config},
    Route{"/machine-config", "PATCH", patch_machine_config},
    Route{kInterfacesPrefix, "PUT", put_network_interface},
    Route{kInterfacesPrefix, "PATCH", patch_network_interface},
    Route{"/actions", "PUT", put_action},
    Route{"/vm", "PATCH", patch_vm},
    Route{"/logger", "PUT", put_logger},
    Route{"/metrics", "PUT", put_metrics},
};

// Firecracker resources skiff lacks, by their first path segment.
struct Unimplemented {
    std::string_view segment;
    std::string_view what;
};

constexpr std::array kUnimplemented{
    Unimplemented{"drives", "block devices"},
    Unimplemented{"vsock", "vsock devices"},
    Unimplemented{"balloon", "the balloon device"},
    Unimplemented{"mmds", "the metadata service (MMDS)"},
    Unimplemented{"snapshot", "snapshots"},
    Unimplemented{"entropy", "the entropy device"},
    Unimplemented{"cpu-config", "custom CPU templates"},
    Unimplemented{"pmem", "pmem devices"},
    Unimplemented{"serial", "serial console settings"},
    Unimplemented{"hotplug", "memory hot-plug"},
};

std::string quoted(std::string_view text) {
    if (text.size() > kQuotedPathLength) {
        return fmt::format("{}...", text.substr(0, kQuotedPathLength));
    }
    return std::string(text);
}

// The route's path for `path` and the id in it ("" if none); nothing when
// no route has that path.
struct Matched {
    std::string_view route_path;
    std::string_view id;
};

std::optional<Matched> match_path(std::string_view path) {
    if (path.starts_with(kInterfacesPrefix)) {
        std::string_view id = path.substr(kInterfacesPrefix.size());
        if (id.find('/') != std::string_view::npos) {
            return std::nullopt;
        }
        return Matched{kInterfacesPrefix, id};
    }
    for (const auto& route : kRoutes) {
        if (route.path == path) {
            return Matched{route.path, {}};
        }
    }
    return std::nullopt;
}

Response route_request(Controller& controller, std::string_view method, std::string_view path,
                       std::string_view body) {
    std::string_view request = path;
    // "/machine-config/" is "/machine-config", as in Firecracker.
    if (path.size() > 1 && path.ends_with('/')) {
        path.remove_suffix(1);
    }
    if (path == "/network-interfaces") {
        path = kInterfacesPrefix;
    }
    auto matched = match_path(path);
    if (!matched) {
        std::string_view segment = path.substr(std::min<size_t>(1, path.size()));
        segment = segment.substr(0, segment.find('/'));
        for (const auto& resource : kUnimplemented) {
            if (resource.segment == segment) {
                return fault(kStatusBadRequest, fmt::format("skiff does not implement {} ({} {})", resource.what,
                                                            quoted(method), quoted(request)));
            }
        }
        return fault(kStatusNotFound,
                     fmt::format("no such resource: {} {} (see GET /vm/config for what skiff has)", quoted(method),
                                 quoted(request)));
    }

    std::vector<std::string_view> methods;
    for (const auto& route : kRoutes) {
        if (route.path != matched->route_path) {
            continue;
        }
        methods.push_back(route.method);
        if (route.method != method) {
            continue;
        }
        if (matched->route_path == kInterfacesPrefix) {
            if (auto valid = check_id(matched->id, "the path's iface_id"); !valid.ok()) {
                return fault(kStatusBadRequest, valid.error().message);
            }
        }
        if (method == "GET" && !body.empty()) {
            return fault(kStatusBadRequest, fmt::format("GET {} takes no body", quoted(request)));
        }
        if (method != "GET" && body.empty()) {
            return fault(kStatusBadRequest, fmt::format("{} {} needs a JSON body", method, quoted(request)));
        }
        return route.handler(controller, matched->id, body);
    }
    Response refused = fault(kStatusMethodNotAllowed, fmt::format("{} does not take {} (it takes {})",
                                                                  quoted(request), quoted(method),
                                                                  fmt::join(methods, ", ")));
    refused.allow = fmt::format("{}", fmt::join(methods, ", "));
    return refused;
}

}  // namespace

Response fault(int status, std::string_view message) {
    return Response{status, dump_json(nlohmann::json{{"fault_message", message}}), {}};
}

Response handle_request(Controller& controller, std::string_view method, std::string_view path,
                        std::string_view body) {
    try {
        return route_request(controller, method, path, body);
    } catch (const std::exception& exception) {
        return fault(kStatusInternalError, fmt::format("internal error: {}", exception.what()));
    } catch (...) {
        return fault(kStatusInternalError, "internal error");
    }
}

}  // namespace skiff::api
