// The C++ samples read commands from stdin, one per line: "verb arg arg ...".
#pragma once

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace sample {

inline bool next_command(std::istream& in, std::vector<std::string>& words) {
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream split(line);
    words.clear();
    for (std::string w; split >> w;) words.push_back(w);
    if (!words.empty() && words[0][0] != '#') return true;
  }
  return false;
}

}  // namespace sample
