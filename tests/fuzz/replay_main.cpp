// Runs a libFuzzer target over files or directories given on the command line, so that
// every ordinary build exercises the fuzz targets on their committed seed corpora (and on
// any crash reproducer added to them). With clang and -DSLIMCACHE_FUZZ=ON the same
// targets link against libFuzzer instead (tests/fuzz/run_fuzzers.sh).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {
int run_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  int inputs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg))
        if (entry.is_regular_file()) inputs += run_file(entry.path());
    } else {
      inputs += run_file(arg);
    }
  }
  // Also a few fixed edge cases every decoder must survive.
  const std::uint8_t edge[] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, '{', '}', '[', ']'};
  for (std::size_t n = 0; n <= sizeof edge; ++n) LLVMFuzzerTestOneInput(edge, n);
  std::printf("replayed %d corpus inputs and %zu edge cases without a crash\n", inputs, sizeof edge + 1);
  return inputs > 0 ? 0 : 1;
}
