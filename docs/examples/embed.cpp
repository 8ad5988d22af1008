// A minimal embedding of the onevisit engine: deploy a bundle, start a case, drive its first
// item, subscribe to events, and read the worklist. Built by CMake as onevisit_embed_example;
// run it from the repository root:  build/docs/examples/onevisit_embed_example
#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/simulate.hpp>

#include <iostream>

int main() {
  using namespace onevisit;
  using namespace onevisit::engine;

  // A virtual clock makes the run repeatable; production passes nothing (the system clock).
  VirtualClock clock((dsl::days_from_civil({2026, 3, 2}) * 24 * 60 + 9 * 60) * 60'000);
  auto opened = Engine::open({":memory:", &clock});  // or a file path for SQLite
  if (!opened) {
    std::cerr << opened.error().message << "\n";
    return 1;
  }
  Engine& engine = **opened;

  auto deployed = engine.deploy({"workflows/bundles/restaurant_opening.flow"});
  if (!deployed) {
    std::cerr << deployed.error().message << "\n";
    for (const auto& d : deployed.error().diagnostics) std::cerr << dsl::render_text(d);
    return 1;
  }
  engine.subscribe([](const std::string& case_id, const Event& e) { std::cout << "  event " << case_id << " " << event_type(e.body) << "\n"; });

  // A form the bundle accepts (here synthesised; a window clerk's intake page sends real data).
  const auto workflow = engine.workflow("restaurant_opening");
  const auto synthetic = synthetic_form(*workflow, clock.now(), 42);
  if (!synthetic) {
    std::cerr << synthetic.error() << "\n";
    return 1;
  }
  const auto& form = *synthetic;
  auto started = engine.start_case("restaurant_opening", form, "11010519491231002X", {"intake-0001", "window-clerk-7", "clerk"});
  if (!started) {
    std::cerr << started.error().message << "\n";
    return 1;
  }
  std::cout << "started " << started->case_id << "\n";

  // Sending the same command again (a retry after a network error) changes nothing.
  auto retried = engine.start_case("restaurant_opening", form, "11010519491231002X", {"intake-0001", "window-clerk-7", "clerk"});
  std::cout << "retry was " << (retried && retried->duplicate ? "recognised" : "NOT recognised") << "\n";

  // A command that is not allowed is refused with the reason, and nothing changes.
  auto refused = engine.execute(started->case_id, FireEvent{"license_check", "approve", {}}, {"", "reviewer-1", "reviewer"});
  if (!refused) std::cout << "refused: " << refused.error().message << "\n";

  auto worklist = engine.worklist(CaseQuery{});
  if (worklist) {
    for (const auto& entry : *worklist) std::cout << "  to do: " << entry.item.item_id << " (" << entry.item.department << ")\n";
  }
  return 0;
}
