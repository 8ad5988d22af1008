#include <onevisit/adapters/plugin.hpp>

#include <onevisit/adapters/plugin_abi.h>

#include <dlfcn.h>

namespace onevisit::adapters {

namespace {

class PluginAdapter final : public Adapter {
 public:
  PluginAdapter(void* library, const onevisit_plugin* table, void* instance) : library_(library), table_(table), instance_(instance) {}
  ~PluginAdapter() override {
    if (table_->destroy) table_->destroy(instance_);
    ::dlclose(library_);
  }
  PluginAdapter(const PluginAdapter&) = delete;
  PluginAdapter& operator=(const PluginAdapter&) = delete;

  AdapterResult submit(const AdapterCall& call) override {
    const onevisit_call c{call.idempotency_key.c_str(), call.case_id.c_str(), call.department.c_str(), call.system.c_str(),
                          call.operation.c_str(),      call.payload.c_str(), call.attempt};
    char message[1024] = {0};
    const auto status = table_->submit(instance_, &c, message, sizeof message);
    message[sizeof message - 1] = '\0';
    switch (status) {
      case ONEVISIT_DELIVERED: return {AdapterResult::Status::delivered, message};
      case ONEVISIT_REJECTED: return {AdapterResult::Status::rejected, message};
      case ONEVISIT_RETRY: return {AdapterResult::Status::retry, message};
    }
    return {AdapterResult::Status::retry, "plugin " + std::string(table_->name ? table_->name : "?") + " answered an unknown status"};
  }

 private:
  void* library_;
  const onevisit_plugin* table_;
  void* instance_;
};

}  // namespace

std::expected<std::shared_ptr<Adapter>, std::string> load_plugin_adapter(const std::string& path, const std::string& settings_json) {
  void* library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char* why = ::dlerror();
    return std::unexpected("cannot load plugin '" + path + "': " + (why ? why : "unknown error"));
  }
  auto entry = reinterpret_cast<onevisit_plugin_entry_fn>(::dlsym(library, "onevisit_plugin_entry"));
  if (!entry) {
    ::dlclose(library);
    return std::unexpected("'" + path + "' is not an onevisit plugin (no onevisit_plugin_entry)");
  }
  const onevisit_plugin* table = entry();
  if (!table || table->abi_version != ONEVISIT_PLUGIN_ABI_VERSION || !table->create || !table->submit) {
    ::dlclose(library);
    return std::unexpected("plugin '" + path + "' speaks ABI version " + (table ? std::to_string(table->abi_version) : std::string("?")) +
                           ", this build needs " + std::to_string(ONEVISIT_PLUGIN_ABI_VERSION));
  }
  char error[1024] = {0};
  void* instance = table->create(settings_json.c_str(), error, sizeof error);
  if (!instance) {
    error[sizeof error - 1] = '\0';
    ::dlclose(library);
    return std::unexpected("plugin '" + path + "' refused its settings: " + std::string(error));
  }
  return std::make_shared<PluginAdapter>(library, table, instance);
}

}  // namespace onevisit::adapters
