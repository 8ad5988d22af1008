// E-licenses (电子证照): the applicant never uploads a document the state already issued.
//
// A material declared `from elicense "类型"` is looked up in the e-license library by type and
// holder; when found, the license is stored in the engine's content store and attached to the
// case as verified. The holder is not named by the workflow: each resident ID number and
// unified social credit code on the form is tried, in form order (the library knows which
// licenses each holder has). A license that is not found leaves the material to upload, as
// before; a library that cannot be reached is an error and changes nothing more.
//
// The `http` library speaks `GET <base>/licenses?type=<type>&holder=<id>`: 200 with
// {"id", "file", "content_base64"}, or 404 when the holder has no such license.
//
// Thread safety: HttpElicenseLibrary::lookup may be called from many threads.
#pragma once

#include <onevisit/adapters/http_adapter.hpp>
#include <onevisit/engine/engine.hpp>

#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onevisit::adapters {

struct Elicense {
  std::string id;  ///< 电子证照标识
  std::string type;
  std::string file_name;
  std::string content;
};

class ElicenseLibrary {
 public:
  virtual ~ElicenseLibrary() = default;
  /// The holder's license of that type; nullopt when they have none.
  virtual std::expected<std::optional<Elicense>, std::string> lookup(const std::string& type, const std::string& holder) = 0;
};

class HttpElicenseLibrary final : public ElicenseLibrary {
 public:
  HttpElicenseLibrary(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token = {});
  std::expected<std::optional<Elicense>, std::string> lookup(const std::string& type, const std::string& holder) override;

 private:
  std::shared_ptr<HttpClient> client_;
  std::string token_;
};

struct ElicenseFetch {
  std::vector<std::string> attached;   ///< materials now attached from the library
  std::vector<std::string> to_upload;  ///< e-license materials the library does not have
};

/// Why one e-license could not be fetched (fetch_elicense). Nothing changed in the case.
struct ElicenseError {
  enum class Kind {
    not_an_elicense,  ///< not declared `from elicense`, or an item of the bundle issues it
    not_held,         ///< no library configured, or it has no such license for the form's holders
    library,          ///< the library cannot be reached or answers nonsense (a passing failure)
    engine,           ///< unknown case or material, or the engine refused (`engine_error`)
  };
  Kind kind = Kind::engine;
  std::string message;
  std::optional<engine::EngineError> engine_error;  ///< for Kind::engine
};

/// Fetches one material of a case from the e-license library and attaches it as verified
/// (with the caller's command options). Only a material declared `from elicense` that no item
/// of the bundle issues; `library` may be null (none configured: upload instead).
std::expected<engine::CommandResult, ElicenseError> fetch_elicense(engine::Engine& engine, const std::string& case_id,
                                                                   const std::string& material_id, ElicenseLibrary* library,
                                                                   const engine::CommandOptions& options);

/// Fetches every missing e-license material of a running case. Idempotent.
std::expected<ElicenseFetch, std::string> fetch_elicenses(engine::Engine& engine, const std::string& case_id, ElicenseLibrary& library,
                                                          const engine::CommandOptions& options);

}  // namespace onevisit::adapters
