// E-licenses (电子证照): the applicant never uploads a document the state already issued.
//
// A material declared `from elicense "类型"` is looked up in the e-license library by type and
// holder; when found, the license is stored in the engine's content store and attached to the
// case as verified. A material declared `from elicense "…" of field` is looked up for the
// number in that field only (a form naming a mother and a father needs each one's own ID
// card); one without `of` tries each resident ID number and unified social credit code on the
// form, in form order (the library knows which licenses each holder has). A license that is not found leaves the material to upload, as
// before; a library that cannot be reached is an error and changes nothing more.
//
// The `http` library speaks `GET <base>/licenses?type=<type>&holder=<id>`: 200 with
// {"id", "file", "content_base64"}, or 404 when the holder has no such license.
//
// The library also holds each company's registration (登记信息, the data behind its 营业执照):
// `GET <base>/registrations?uscc=<code>` answers 200 with {"uscc", "name",
// "legal_representative", "legal_representative_id", "agents", "address", "type", "capital",
// "business_scope", "established"} (`agents`: the ID numbers of the people the company
// authorised to act for it, 授权代理人), or 404. The intake pre-fills the one form from it (registration_prefill), so a clerk does not
// key in again what the state already registered.
//
// Thread safety: HttpElicenseLibrary::lookup may be called from many threads.
#pragma once

#include <onevisit/adapters/http_adapter.hpp>
#include <onevisit/engine/engine.hpp>

#include <expected>
#include <map>
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

/// A company's registration as the e-license library holds it (every member may be empty).
struct CompanyRegistration {
  std::string uscc;                  ///< 统一社会信用代码
  std::string name;                  ///< 企业名称
  std::string legal_representative;  ///< 法定代表人姓名
  std::string address;               ///< 住所(经营场所)
  std::string type;                  ///< 企业类型
  std::string capital;               ///< 注册资本, in 万元 as registered
  std::string business_scope;        ///< 经营范围
  std::string established;           ///< 成立日期, YYYY-MM-DD
  std::string legal_representative_id;  ///< 法定代表人身份证号 (the applicant channel checks who acts)
  std::vector<std::string> agents;      ///< ID numbers of its authorised agents (授权代理人)
};

class ElicenseLibrary {
 public:
  virtual ~ElicenseLibrary() = default;
  /// The holder's license of that type; nullopt when they have none.
  virtual std::expected<std::optional<Elicense>, std::string> lookup(const std::string& type, const std::string& holder) = 0;
  /// The registration of the company with this (valid, upper-case) credit code; nullopt when
  /// the library has none. Default: a library that holds no registrations.
  virtual std::expected<std::optional<CompanyRegistration>, std::string> registration(const std::string& uscc) {
    (void)uscc;
    return std::optional<CompanyRegistration>{};
  }
};

class HttpElicenseLibrary final : public ElicenseLibrary {
 public:
  HttpElicenseLibrary(HttpEndpoint endpoint, std::chrono::milliseconds timeout, std::string bearer_token = {});
  std::expected<std::optional<Elicense>, std::string> lookup(const std::string& type, const std::string& holder) override;
  std::expected<std::optional<CompanyRegistration>, std::string> registration(const std::string& uscc) override;

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
  std::string message;                              ///< for the clerk: Chinese, by titles, what to do instead
  std::optional<engine::EngineError> engine_error;  ///< for Kind::engine
  std::string detail;                               ///< for the log: English, by ids
};

/// Fetches one material of a case from the e-license library and attaches it as verified
/// (with the caller's command options). Only a material declared `from elicense` that no item
/// of the bundle issues; `library` may be null (none configured: upload instead).
std::expected<engine::CommandResult, ElicenseError> fetch_elicense(engine::Engine& engine, const std::string& case_id,
                                                                   const std::string& material_id, ElicenseLibrary* library,
                                                                   const engine::CommandOptions& options);

/// The form fields of `wf` that a registration fills, by field name: `company_name` (name),
/// `legal_rep_name`, `business_address`, `capital`, `business_scope`, `company_type` (only
/// when the registered type is one of the field's choices) and `uscc`. Only fields the bundle
/// declares, never a situation question, never an empty value.
std::map<std::string, std::string> registration_prefill(const engine::Workflow& wf, const CompanyRegistration& registration);

/// Fetches every missing e-license material of a running case. Idempotent.
std::expected<ElicenseFetch, std::string> fetch_elicenses(engine::Engine& engine, const std::string& case_id, ElicenseLibrary& library,
                                                          const engine::CommandOptions& options);

}  // namespace onevisit::adapters
