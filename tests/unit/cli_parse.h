// skiff's command line parsed from words, as main() gets them ("skiff"
// first): shared by the unit tests of flags.
#pragma once

#include "vmm/cli.h"

#include <string>
#include <vector>

namespace skiff::test {

inline ParsedCommandLine parse_words(std::vector<std::string> words) {
    std::vector<char*> argv;
    words.insert(words.begin(), "skiff");
    for (auto& word : words) {
        argv.push_back(word.data());
    }
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

}  // namespace skiff::test
