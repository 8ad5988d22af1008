// onevisit-deptsim: the department-system simulator as a program (see simulator.hpp).
//
//   onevisit-deptsim --listen 127.0.0.1:8090 --config sim.toml --exchange police_exchange=/srv/x/police
//   onevisit-deptsim --listen 127.0.0.1:19196 --id-reader-origin http://127.0.0.1:8080   (an ID-card reader)
//
// Prints the address it listens on, runs until SIGINT or SIGTERM, then prints its counts.
#include "deptsim/simulator.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <fstream>
#include <iostream>

#include <unistd.h>

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"onevisit-deptsim: plays departments' systems (HTTP, exchange folders, e-licenses, SMS) for tests and demos"};
  std::string listen = "127.0.0.1:0", config, port_file;
  std::vector<std::string> exchanges, reader_origins;
  bool id_reader = false;
  app.add_option("--listen", listen, "ADDRESS:PORT to listen on (port 0: any free port)");
  app.add_option("--config", config, "behaviours of the departments (TOML)")->check(CLI::ExistingFile);
  app.add_option("--exchange", exchanges, "NAME=FOLDER: answer the exchange folder of system NAME");
  app.add_option("--port-file", port_file, "write the port listened on to this file");
  app.add_flag("--id-reader", id_reader, "also play a window PC's ID-card reader at /idreader/read (docs/adapters.md)");
  app.add_option("--id-reader-origin", reader_origins, "ORIGIN whose pages may read the card (CORS; \"*\": any); implies --id-reader");
  CLI11_PARSE(app, argc, argv);

  onevisit::deptsim::Options options;
  if (!config.empty()) {
    auto loaded = onevisit::deptsim::load_options(config);
    if (!loaded) {
      std::cerr << "onevisit-deptsim: " << loaded.error() << "\n";
      return 2;
    }
    options = std::move(*loaded);
  }
  if (id_reader || !reader_origins.empty()) {
    options.id_reader.enabled = true;
    options.id_reader.origins.insert(options.id_reader.origins.end(), reader_origins.begin(), reader_origins.end());
  }
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "onevisit-deptsim: --listen wants ADDRESS:PORT, got '" << listen << "'\n";
    return 2;
  }
  options.listen_address = listen.substr(0, colon);
  try {
    const int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    options.port = static_cast<unsigned short>(port);
  } catch (const std::exception&) {
    std::cerr << "onevisit-deptsim: '" << listen.substr(colon + 1) << "' is not a port\n";
    return 2;
  }
  for (const auto& e : exchanges) {
    const auto eq = e.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == e.size()) {
      std::cerr << "onevisit-deptsim: --exchange wants NAME=FOLDER, got '" << e << "'\n";
      return 2;
    }
    options.exchanges[e.substr(0, eq)] = e.substr(eq + 1);
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto simulator = onevisit::deptsim::Simulator::start(options);
  if (!simulator) {
    std::cerr << "onevisit-deptsim: " << simulator.error() << "\n";
    return 1;
  }
  if (!port_file.empty()) {
    std::ofstream(port_file + ".tmp") << (*simulator)->port() << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }
  std::cout << "onevisit-deptsim listening on " << (*simulator)->url() << std::endl;
  while (!g_stop) pause();
  (*simulator)->stop();
  std::cout << (*simulator)->stats_json() << std::endl;
  return 0;
}
