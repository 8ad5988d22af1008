// Helper for the crash-safety test in store_test.cpp: commits commands to an SQLite store
// from several threads until it is killed, and prints one line per acknowledged commit,
// "<command id> <case id> <case version>", after commit() returned success.
//
// Usage: crash_writer <database> <run number>
// Every run works on its own cases ("r<run>-t<thread>-c<n>"), so the test can tell runs
// apart. Each commit leaves marks of its version everywhere it writes (item state, timer,
// outbox key = command id, the snapshot when it sends one) so that a half-applied commit
// would show.
#include <onevisit/engine/store.hpp>

#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using namespace onevisit::engine;

void write_line(const std::string& line) {
  // One write() per line: atomic on a pipe (shorter than PIPE_BUF), so lines never interleave,
  // and unbuffered, so an acknowledged commit is printed before the next one starts.
  const auto n = ::write(STDOUT_FILENO, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) std::_Exit(3);
}

void work(Store& store, const std::string& run, int thread) {
  std::mt19937 random(static_cast<unsigned>(thread * 7919 + std::stoi(run)));
  std::uniform_int_distribution<int> events_per_commit(1, 3);
  std::uniform_int_distribution<int> commits_per_case(1, 6);
  for (int n = 0;; ++n) {
    const std::string case_id = "r" + run + "-t" + std::to_string(thread) + "-c" + std::to_string(n);
    std::uint64_t version = 0;
    const int commits = commits_per_case(random);
    for (int k = 0; k < commits; ++k) {
      CommitRequest r;
      r.command_id = case_id + "-k" + std::to_string(k);
      r.case_id = case_id;
      r.expected_version = version;
      const auto count = static_cast<std::uint64_t>(events_per_commit(random));
      for (std::uint64_t i = 1; i <= count; ++i) {
        r.events.push_back(StoredEvent{version + i, version + i == 1 ? "CaseStarted" : "ItemTransitioned",
                                       "{\"payload\":\"" + std::string(200, 'e') + "\"}", 1});
      }
      const auto before = version;
      version += count;
      const auto v = std::to_string(version);
      // A snapshot whenever the case crosses a multiple of 4 events, as the runtime does (of 16).
      if (version / 4 > before / 4) r.snapshot = "{\"version\":" + v + "}";
      r.summary = CaseSummary{case_id, "crash_bundle", 1, "running", "李*", 1, 1, version};
      r.items = {ItemRow{"item", "market", "v" + v, false, static_cast<Timestamp>(version), ""}};
      r.set_timers = {TimerRecord{case_id, "t", static_cast<Timestamp>(version), "{}"}};
      r.outbox = {OutboxRecord{0, r.command_id, case_id, "market", "market_registry", "submit", "{}", 0, 0,
                               "pending", ""}};
      r.result = "{\"version\":" + v + "}";
      auto result = store.commit(r);
      if (!result) {
        std::fprintf(stderr, "commit %s failed: %s\n", r.command_id.c_str(), result.error().message.c_str());
        std::_Exit(2);
      }
      write_line(r.command_id + " " + case_id + " " + v + "\n");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: crash_writer <database> <run number>\n");
    return 64;
  }
  auto store = open_sqlite_store(argv[1]);
  if (!store) {
    std::fprintf(stderr, "open %s: %s\n", argv[1], store.error().message.c_str());
    return 1;
  }
  const std::string run = argv[2];
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { work(**store, run, t); });
  for (auto& t : threads) t.join();  // never returns: the test kills the process
  return 0;
}
