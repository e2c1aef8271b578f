#include <iostream>
int main() { std::cerr << "websd: not yet\n"; return 1; }
