#include <onevisit/adapters/results.hpp>

#include <onevisit/adapters/elicense.hpp>
#include <onevisit/engine/figures.hpp>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace onevisit::adapters {

namespace {

using engine::EngineError;
using engine::Rejection;

// A passing failure: the database could not take the answer now. The people who read the
// refusal get Chinese; the store's own words go to the log.
ResultError try_later(std::string detail) {
  return ResultError{false, "办件数据库暂时无法办理这份答复，请稍后重发；同一份答复重发只办理一次", false, std::move(detail)};
}

ResultError from(const EngineError& e) {
  // A store that failed (or could not be reached) may take the answer later; anything else is final.
  if (e.kind == EngineError::Kind::store || e.kind == EngineError::Kind::unavailable) return try_later(e.message);
  return ResultError{true, e.message};
}

ResultError not_allowed(std::string message) { return ResultError{true, std::move(message), true}; }

std::string lowercase(std::string_view status) {
  std::string out(status);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string item_of_request(std::string_view request_id) {
  const auto first = request_id.find('/');
  if (first == std::string_view::npos) return {};
  const auto second = request_id.find('/', first + 1);
  if (second == std::string_view::npos) return {};
  return std::string(request_id.substr(first + 1, second - first - 1));
}

std::expected<ResultApplication, ResultError> apply_result(engine::Engine& engine, const Receipt& receipt, const ReceiptSender& sender,
                                                           const ResultMapping& mapping) {
  ResultApplication done;
  if (receipt.request_id.empty()) return std::unexpected(ResultError{true, "the answer names no request"});
  if (sender.system.empty()) return std::unexpected(not_allowed("the answer has no authenticated sender"));
  auto view = engine.get_case(receipt.case_id);
  if (!view) return std::unexpected(from(view.error()));
  const std::string requested_item = item_of_request(receipt.request_id);
  const std::string item_id = receipt.item.empty() ? requested_item : receipt.item;
  const auto& wf = *view->workflow;
  const auto item = std::find_if(wf.items.begin(), wf.items.end(), [&](const auto& i) { return i.id == item_id; });
  if (item == wf.items.end()) {
    return std::unexpected(ResultError{true, "case " + receipt.case_id + " has no item '" + item_id + "'"});
  }
  const engine::ItemIndex index = static_cast<engine::ItemIndex>(item - wf.items.begin());

  // Who may answer: the sender's department must own the item, or have been called about it
  // (an item may call another department). A request id names its case and item; a receipt
  // that names others would answer one department's call on another's item.
  if (receipt.request_id.rfind(receipt.case_id + "/", 0) != 0 || (!requested_item.empty() && requested_item != item_id)) {
    return std::unexpected(not_allowed("the answer to request '" + receipt.request_id + "' cannot be for item '" + item_id + "' of case " +
                                       receipt.case_id));
  }
  const auto speaks_for = [&](const std::string& department, const std::string& system) {
    return sender.department.empty() ? system == sender.system : department == sender.department;
  };
  const auto& owner = wf.departments[item->department];
  std::vector<std::string> sender_names{sender.system};
  if (speaks_for(owner.id, owner.adapter)) {
    sender_names.insert(sender_names.end(), {owner.id, owner.adapter});
  } else {
    auto calls = engine.calls(receipt.case_id, "", 100'000);
    if (!calls) return std::unexpected(try_later(calls.error().message));
    const auto call = std::find_if(calls->begin(), calls->end(), [&](const engine::OutboxRecord& r) {
      return r.idempotency_key == receipt.request_id && speaks_for(r.department, r.adapter);
    });
    if (call == calls->end()) {
      return std::unexpected(not_allowed("item " + item_id + " belongs to department " + owner.id + ", and " + sender.system +
                                         " was not called about it: a system answers only its own department's items"));
    }
    sender_names.insert(sender_names.end(), {call->department, call->adapter});
  }
  // The body's `from` is not who sent it; one that names someone else is a forgery or a mistake.
  if (!receipt.from.empty() && std::find(sender_names.begin(), sender_names.end(), receipt.from) == sender_names.end()) {
    return std::unexpected(not_allowed("the answer says it is from '" + receipt.from + "', but " + sender.system + " sent it"));
  }
  const std::string actor = "system:" + sender.system;

  // Every document must name a material the answering item issues: check them all before
  // changing anything.
  for (const auto& document : receipt.documents) {
    const auto m = wf.find_material(document.material);
    if (!m) {
      return std::unexpected(ResultError{true, "bundle " + wf.bundle_id + " has no material '" + document.material + "'"});
    }
    const bool produced = wf.materials[*m].producer == index ||
                          std::find(item->produces.begin(), item->produces.end(), *m) != item->produces.end();
    if (!produced) {
      return std::unexpected(not_allowed("item " + item_id + " does not produce material '" + document.material +
                                         "': an answer attaches only the documents its item issues"));
    }
  }

  // First the lifecycle event for the status, if the item is where that event leaves from:
  // an answer the lifecycle refuses changes nothing at all.
  const auto& state = view->state.items[index];
  const auto& lifecycle = wf.lifecycles[item->lifecycle];
  const auto candidates = mapping.events.find(receipt.status);
  std::string event;
  if (state.phase == engine::ItemPhase::active && candidates != mapping.events.end()) {
    for (const auto& candidate : candidates->second) {
      for (const auto t : lifecycle.transitions_from(state.state)) {
        if (lifecycle.transitions[t].event == candidate && event.empty()) event = candidate;
      }
    }
  }
  // A joint item (联办) is approved or refused by its departments' parts (DecidePart, by their
  // reviewers), never by one system's answer: the answer to a countersign is acknowledged.
  if (!item->joint.empty() && (event == "approve" || event == "reject")) {
    done.notes.push_back("item " + item_id + " is decided by its departments' parts: nothing to fire for " + std::string(to_string(receipt.status)));
    event.clear();
  } else if (event.empty()) {
    done.notes.push_back("item " + item_id + " is " + std::string(engine::to_string(state.phase)) +
                         (state.phase == engine::ItemPhase::waiting ? "" : " in state " + lifecycle.states[state.state].id) +
                         ": nothing to fire for " + std::string(to_string(receipt.status)));
  } else {
    engine::FireEvent fire{item_id, event, {}};
    if (!receipt.reason.empty()) fire.fields["reason"] = receipt.reason;
    auto fired = engine.execute(receipt.case_id, fire,
                                {.command_id = "result/" + receipt.request_id + "/" + lowercase(to_string(receipt.status)),
                                 .actor = actor,
                                 .role = mapping.role});
    if (!fired) return std::unexpected(from(fired.error()));
    (fired->duplicate ? done.notes : done.commands).push_back("fire " + event + " on " + item_id);
  }

  for (const auto& document : receipt.documents) {
    std::string stored = document.content;
    if (stored.empty()) {
      // An e-license is kept as a reference: the library holds the document itself.
      stored = boost::json::serialize(boost::json::object{{"elicense_id", document.elicense_id}, {"issuer", actor}});
    }
    auto hash = engine.contents().put(stored);
    if (!hash) return std::unexpected(try_later(hash.error().message));
    const std::string file = !document.file_name.empty() ? document.file_name
                             : !document.elicense_id.empty() ? document.elicense_id
                                                             : document.material;
    auto attached = engine.execute(receipt.case_id, engine::AttachMaterial{document.material, *hash, file, true},
                                   {.command_id = "result/" + receipt.request_id + "/document/" + document.material,
                                    .actor = actor,
                                    .role = "system"});
    if (attached) {
      (attached->duplicate ? done.notes : done.commands).push_back("attach " + document.material);
    } else if (attached.error().rejection && attached.error().rejection->code == Rejection::Code::wrong_state) {
      done.notes.push_back("document " + document.material + " already there: " + attached.error().message);
    } else {
      return std::unexpected(from(attached.error()));
    }
  }

  return done;
}

}  // namespace onevisit::adapters

namespace onevisit::adapters {

namespace {

// The holders the form names, in form order: each resident ID number and credit code.
std::vector<std::string> elicense_holders(const engine::Workflow& wf, const engine::Case& state) {
  std::vector<std::string> holders;
  for (const auto& f : wf.fields) {
    const auto& value = state.slots[f.slot];
    const bool identifier = f.value_type.base == dsl::BaseType::idcard || f.value_type.base == dsl::BaseType::uscc;
    if (identifier && value.kind == dsl::ValueKind::text && !value.text.empty() &&
        std::find(holders.begin(), holders.end(), value.text) == holders.end()) {
      holders.push_back(value.text);
    }
  }
  return holders;
}

// Whose license a material is: with `of field`, only that field's holder (nobody while the
// field is empty), for with two licenses of one type the first holder's would be the wrong
// person's; without, every holder on the form.
std::vector<std::string> holders_for(const engine::Workflow& wf, const engine::Case& state,
                                     const engine::MaterialModel& material, const std::vector<std::string>& all) {
  if (!material.holder) return all;
  const auto& value = state.slots[wf.fields[*material.holder].slot];
  if (value.kind != dsl::ValueKind::text || value.text.empty()) return {};
  return {value.text};
}

// What the clerk reads when the library has no such license: whose number was looked up.
std::string not_held_message(const engine::Workflow& wf, const engine::MaterialModel& material) {
  const std::string whose = material.holder ? "「" + wf.fields[*material.holder].title + "」所填号码" : "申请表所填证件号码";
  return "电子证照库中没有" + whose + "名下的「" + material.elicense_type + "」，请改为上传「" + material.title + "」";
}

// The first holder's license of the type; nullopt when none of them has one.
std::expected<std::optional<Elicense>, std::string> find_elicense(ElicenseLibrary& library, const std::string& type,
                                                                  const std::vector<std::string>& holders) {
  for (const auto& holder : holders) {
    auto license = library.lookup(type, holder);
    if (!license) return std::unexpected(license.error());
    if (*license) return std::move(*license);
  }
  return std::nullopt;
}

}  // namespace

std::expected<engine::CommandResult, ElicenseError> fetch_elicense(engine::Engine& engine, const std::string& case_id,
                                                                   const std::string& material_id, ElicenseLibrary* library,
                                                                   const engine::CommandOptions& options) {
  using Kind = ElicenseError::Kind;
  auto view = engine.get_case(case_id);
  if (!view) return std::unexpected(ElicenseError{Kind::engine, view.error().message, view.error(), view.error().message});
  const auto& wf = *view->workflow;
  const auto m = wf.find_material(material_id);
  if (!m) {
    return std::unexpected(ElicenseError{Kind::engine, "这件事没有这份材料",
                                         engine::EngineError{engine::EngineError::Kind::not_found, "no material '" + material_id + "' in this bundle"},
                                         "no material '" + material_id + "' in this bundle"});
  }
  const auto& material = wf.materials[*m];
  // The message is what the clerk reads (Chinese, by titles, saying what to do instead); the
  // English detail goes to the log.
  const std::string title = "「" + material.title + "」";
  if (material.producer) {
    return std::unexpected(ElicenseError{Kind::not_an_elicense,
                                         title + "由本件的「" + wf.items[*material.producer].title + "」出具，部门出件后自动取得，无需调取",
                                         std::nullopt,
                                         "material '" + material_id + "' is issued by item '" + wf.items[*material.producer].id +
                                             "' of this bundle: its department's system delivers it"});
  }
  if (material.source != engine::MaterialSource::elicense) {
    return std::unexpected(ElicenseError{Kind::not_an_elicense, title + "不是电子证照，请上传材料文件", std::nullopt,
                                         "material '" + material_id + "' is not declared `from elicense`: upload it"});
  }
  if (library == nullptr) {
    return std::unexpected(ElicenseError{Kind::not_held, "本中心未接入电子证照库，请改为上传" + title, std::nullopt,
                                         "no e-license library is configured; upload material '" + material_id + "' instead"});
  }
  const auto holders = elicense_holders(wf, view->state);
  auto found = find_elicense(*library, material.elicense_type, holders_for(wf, view->state, material, holders));
  if (!found) {
    return std::unexpected(ElicenseError{Kind::library, "电子证照库暂时无法访问，请稍后重试，或改为上传" + title, std::nullopt,
                                         found.error() + "; try again, or upload material '" + material_id + "' instead"});
  }
  if (!*found) {
    const std::string whose = material.holder ? "the number in field '" + wf.fields[*material.holder].name + "'"
                                              : "the ID or credit code numbers on the form";
    return std::unexpected(ElicenseError{Kind::not_held, not_held_message(wf, material), std::nullopt,
                                         "the e-license library holds no " + material.elicense_type + " for " + whose +
                                             "; upload material '" + material_id + "' instead"});
  }
  auto hash = engine.contents().put((*found)->content);
  if (!hash) {
    // The database out of reach is the engine's answer (503 unavailable, to be retried).
    if (hash.error().kind == engine::StoreError::Kind::unavailable) {
      auto error = engine::EngineError::from(hash.error());
      return std::unexpected(ElicenseError{Kind::engine, error.message, error, "storing the e-license: " + hash.error().message});
    }
    return std::unexpected(ElicenseError{Kind::library, "电子证照保存失败，请稍后重试", std::nullopt, "storing the e-license: " + hash.error().message});
  }
  auto attached = engine.execute(case_id, engine::AttachMaterial{material_id, *hash, (*found)->file_name, true}, options);
  if (!attached) return std::unexpected(ElicenseError{Kind::engine, attached.error().message, attached.error(), attached.error().message});
  return std::move(*attached);
}

std::map<std::string, std::string> registration_prefill(const engine::Workflow& wf, const CompanyRegistration& registration) {
  // The conventional names the bundles give these fields (workflows/bundles): a bundle that
  // names a field otherwise is not filled, rather than guessed.
  const std::pair<std::string_view, const std::string*> known[] = {
      {"company_name", &registration.name},       {"legal_rep_name", &registration.legal_representative},
      {"business_address", &registration.address}, {"capital", &registration.capital},
      {"business_scope", &registration.business_scope}, {"company_type", &registration.type},
      {"uscc", &registration.uscc}};
  std::map<std::string, std::string> filled;
  for (const auto& f : wf.fields) {
    if (f.situation) continue;
    for (const auto& [name, value] : known) {
      if (f.name != name || value->empty()) continue;
      // A choice is filled only with one of its members; anything else is typed by the clerk.
      // (parse_field_value refuses a value outside an enum's members.)
      if (engine::parse_field_value(wf, f.name, *value)) filled[f.name] = *value;
    }
  }
  return filled;
}

std::expected<ElicenseFetch, std::string> fetch_elicenses(engine::Engine& engine, const std::string& case_id, ElicenseLibrary& library,
                                                          const engine::CommandOptions& options) {
  auto view = engine.get_case(case_id);
  if (!view) return std::unexpected(view.error().message);
  const auto& wf = *view->workflow;
  const auto& state = view->state;
  const auto holders = elicense_holders(wf, state);
  ElicenseFetch fetched;
  for (engine::MaterialIndex m = 0; m < wf.materials.size(); ++m) {
    const auto& material = wf.materials[m];
    const auto status = state.materials[m].status;
    if (material.source != engine::MaterialSource::elicense || !engine::material_applies(wf, state, m)) continue;
    if (status != engine::MaterialStatus::missing && status != engine::MaterialStatus::rejected) continue;
    auto found = find_elicense(library, material.elicense_type, holders_for(wf, state, material, holders));
    if (!found) return std::unexpected(found.error());
    if (!*found) {
      fetched.to_upload.push_back(material.id);
      continue;
    }
    auto hash = engine.contents().put((*found)->content);
    if (!hash) return std::unexpected(hash.error().message);
    engine::CommandOptions command = options;
    command.command_id = options.command_id.empty() ? "" : options.command_id + "/" + material.id;
    auto attached = engine.execute(case_id, engine::AttachMaterial{material.id, *hash, (*found)->file_name, true}, command);
    if (!attached) return std::unexpected("attaching e-license " + material.id + ": " + attached.error().message);
    fetched.attached.push_back(material.id);
  }
  return fetched;
}

}  // namespace onevisit::adapters
