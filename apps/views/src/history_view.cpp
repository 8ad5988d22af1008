#include <onevisit/views/history_view.hpp>

#include <onevisit/views/case_view.hpp>
#include <onevisit/views/format.hpp>

#include <onevisit/adapters/adapter.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <type_traits>
#include <utility>

namespace onevisit::views {

namespace json = boost::json;

std::string_view event_title(std::string_view kind) {
  static const std::pair<std::string_view, std::string_view> kTitles[] = {
      {"CaseStarted", "受理"},           {"MaterialAttached", "提交材料"},   {"MaterialVerified", "材料核验通过"},
      {"MaterialRejected", "材料退回"},  {"MaterialProduced", "生成材料"},   {"MaterialTolerated", "容缺受理"},
      {"ItemActivated", "事项开始办理"}, {"ItemNotApplicable", "事项不适用"}, {"ItemCancelled", "事项取消"},
      {"ItemTransitioned", "事项流转"},  {"ClockPaused", "暂停计时"},       {"ClockResumed", "恢复计时"},
      {"ItemWarned", "黄灯预警"},        {"ItemOverdue", "红灯超时"},       {"CaseCompleted", "办结"},
      {"CaseWithdrawn", "撤回"},         {"CaseDelivered", "出件"},         {"CaseRated", "评价"},
      {"PersonalDataErased", "个人信息已按保存期限删除"},
      {"SpecialProcedureStarted", "开始特别程序"},
      {"SpecialProcedureEnded", "结束特别程序"},
      {"SpecialProcedureWarned", "特别程序即将到达最长时限"},
      {"SpecialProcedureOverdue", "特别程序超过最长时限"},
      {"ItemUrged", "督办"},             {"DeliveryChosen", "选择送达方式"},
      {"RectificationAnswered", "差评整改答复"}, {"CalendarAdopted", "工作日历更新"},
      {"ItemPartDecided", "联办会签"}};
  for (const auto& [k, title] : kTitles) {
    if (k == kind) return title;
  }
  return kind;
}

namespace {

std::string masked(std::string_view text) { return adapters::mask_identifiers(text); }

json::object ref(std::string_view id, std::string_view title) { return json::object{{"id", id}, {"title", title}}; }

bool has_chinese(std::string_view text) {
  // Every CJK ideograph is three bytes in UTF-8 and starts with 0xE3..0xE9.
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b >= 0xE3 && b <= 0xE9;
  });
}

// A system that acted (actor "system:<name>"), by the title people know it by, never its id:
// a department of the bundle whose system (adapter) or id it is, else the account's display
// name when it is one (the server gives a department system's account its department's title),
// else no name at all.
std::string system_title(const engine::Workflow& wf, std::string_view name, const DisplayNameLookup& display_name) {
  if (name == "retention") return "系统（个人信息保存期限）";
  for (const auto& d : wf.departments) {
    if ((d.adapter == name || d.id == name) && !d.title.empty()) return "部门系统（" + d.title + "）";
  }
  std::optional<std::string> shown;
  if (display_name) shown = display_name(std::string(name));
  if (shown && has_chinese(*shown)) return "部门系统（" + masked(*shown) + "）";
  return "部门系统";
}

// Who acted, as people read it: an account's display name, a department's system, the timer.
json::object actor_json(const engine::Workflow& wf, const std::string& actor, const DisplayNameLookup& display_name) {
  if (actor == "scheduler") return json::object{{"kind", "timer"}, {"name", "scheduler"}, {"display_name", "计时器"}};
  if (actor.starts_with("system:")) {
    return json::object{{"kind", "system"}, {"name", masked(actor)}, {"display_name", system_title(wf, std::string_view(actor).substr(7), display_name)}};
  }
  if (actor.empty() || actor == "system") return json::object{{"kind", "system"}, {"name", "system"}, {"display_name", "系统"}};
  std::optional<std::string> shown;
  if (display_name) shown = display_name(actor);
  return json::object{{"kind", "user"}, {"name", masked(actor)},
                      {"display_name", masked(shown && !shown->empty() ? *shown : actor)}};
}

// A form field's title, for a value a transition carries (its name when the form has none).
std::string field_title(const engine::Workflow& wf, const std::string& name) {
  for (const auto& field : wf.fields) {
    if (field.name == name && !field.title.empty()) return field.title;
  }
  return name;
}

std::string channel_title(const std::string& channel) {
  if (channel == "window") return "窗口领取";
  if (channel == "mail") return "邮寄送达";
  if (channel == "electronic") return "电子送达";
  return channel;
}

// What one event says beyond its kind: the item, material, states and reason it names.
struct Facts {
  std::optional<engine::ItemIndex> item;
  std::optional<engine::MaterialIndex> material;
  std::optional<engine::StateIndex> from, to;
  std::string event;   ///< the lifecycle event of a transition
  std::string reason;  ///< why (a refusal, a correction, a pause, a withdrawal)
  std::string note;    ///< anything else worth reading (a file, a channel, a rating)
  std::optional<std::uint32_t> special;  ///< the special procedure (of `item`) it concerns
};

Facts facts_of(const engine::Workflow& wf, const engine::Event& event) {
  Facts f;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, engine::MaterialAttached>) {
          f.material = e.material;
          f.note = e.from_elicense ? "电子证照" : e.file_name;
        } else if constexpr (std::is_same_v<T, engine::MaterialVerified>) {
          f.material = e.material;
        } else if constexpr (std::is_same_v<T, engine::MaterialRejected>) {
          f.material = e.material;
          f.reason = e.reason;
        } else if constexpr (std::is_same_v<T, engine::MaterialProduced>) {
          f.material = e.material;
          f.item = e.by;
        } else if constexpr (std::is_same_v<T, engine::MaterialTolerated>) {
          f.material = e.material;
          f.item = e.item;
        } else if constexpr (std::is_same_v<T, engine::ItemActivated>) {
          f.item = e.item;
          f.to = e.state;
        } else if constexpr (std::is_same_v<T, engine::ItemTransitioned>) {
          f.item = e.item;
          f.from = e.from;
          f.to = e.to;
          const auto& lifecycle = wf.lifecycles[wf.items[e.item].lifecycle];
          if (e.transition < lifecycle.transitions.size()) f.event = lifecycle.transitions[e.transition].event;
          for (const auto& [name, value] : e.fields) {
            if (name == "reason") f.reason = value;
            else f.note += (f.note.empty() ? "" : "；") + field_title(wf, name) + "：" + value;
          }
          if (e.for_applicant) f.note = "窗口代申请人办理" + std::string(f.note.empty() ? "" : "；") + f.note;
        } else if constexpr (std::is_same_v<T, engine::ItemCancelled>) {
          f.item = e.item;
          if (e.because < wf.items.size()) f.reason = "前置事项「" + wf.items[e.because].title + "」未通过";
        } else if constexpr (std::is_same_v<T, engine::ClockPaused>) {
          f.item = e.item;
          f.reason = e.reason;
        } else if constexpr (std::is_same_v<T, engine::ItemNotApplicable> || std::is_same_v<T, engine::ClockResumed> ||
                             std::is_same_v<T, engine::ItemWarned> || std::is_same_v<T, engine::ItemOverdue>) {
          f.item = e.item;
        } else if constexpr (std::is_same_v<T, engine::SpecialProcedureStarted>) {
          f.item = e.item;
          f.special = e.procedure;
          f.reason = e.reason;
        } else if constexpr (std::is_same_v<T, engine::SpecialProcedureEnded>) {
          f.item = e.item;
          f.special = e.procedure;
          f.note = "结果：" + e.result;
        } else if constexpr (std::is_same_v<T, engine::SpecialProcedureWarned> ||
                             std::is_same_v<T, engine::SpecialProcedureOverdue>) {
          f.item = e.item;
          f.special = e.procedure;
        } else if constexpr (std::is_same_v<T, engine::CaseWithdrawn>) {
          f.reason = e.reason;
        } else if constexpr (std::is_same_v<T, engine::CaseDelivered>) {
          f.note = channel_title(e.channel);
        } else if constexpr (std::is_same_v<T, engine::CaseRated>) {
          f.note = std::to_string(e.level) + " 分" + (e.comment.empty() ? "" : "：" + e.comment);
        } else if constexpr (std::is_same_v<T, engine::PersonalDataErased>) {
          f.note = e.policy;
        } else if constexpr (std::is_same_v<T, engine::ItemUrged>) {
          f.item = e.item;
          f.note = "督办意见：" + e.note;
        } else if constexpr (std::is_same_v<T, engine::CalendarAdopted>) {
          // Why a deadline moved: the calendar's new version, and each deadline before and after.
          f.reason = "按「" + e.title + "」第" + std::to_string(e.version) + "版重新计算办理期限";
          for (const auto& m : e.moves) {
            if (m.item >= wf.items.size()) continue;
            f.note += (f.note.empty() ? "" : "；") + ("「" + wf.items[m.item].title + "」期限由" + format_time(m.before) + "改为" +
                                                      format_time(m.after));
          }
          if (f.note.empty()) f.note = "各事项期限不变";
        } else if constexpr (std::is_same_v<T, engine::ItemPartDecided>) {
          // Which department decided its part, and how (the department's title, never its id).
          f.item = e.item;
          const auto& joint = wf.items[e.item].joint;
          const std::string department = e.part < joint.size() ? wf.departments[joint[e.part]].title : std::string("联办部门");
          f.note = department + (e.approved ? "同意" : "不同意") + (e.note.empty() ? "" : "：" + e.note);
          if (!e.approved) f.reason = e.note;
        } else if constexpr (std::is_same_v<T, engine::RectificationAnswered>) {
          f.note = "整改答复：" + e.answer;
        } else if constexpr (std::is_same_v<T, engine::DeliveryChosen>) {
          // The mobile number is masked with the note (mask_identifiers): the clerk packing the
          // parcel reads the recipient and the address.
          f.note = e.method == "mail" ? "邮寄送达：" + e.recipient + "，" + e.mobile + "，" + e.address : std::string("窗口领取");
        }
      },
      event.body);
  return f;
}

}  // namespace

json::array history_json(const engine::Workflow& wf, const std::vector<engine::RecordedEvent>& events, const DepartmentScope* scope,
                         const DisplayNameLookup& display_name) {
  json::array out;
  for (const auto& recorded : events) {
    const auto f = facts_of(wf, recorded.event);
    // Indices of another version would be a bug; an entry never reads out of range.
    const bool item_known = f.item && *f.item < wf.items.size();
    const bool material_known = f.material && *f.material < wf.materials.size();
    if (scope != nullptr) {
      if (item_known && !scope->items[*f.item]) continue;
      if (material_known && !scope->materials[*f.material]) continue;
    }
    json::object entry{{"sequence", recorded.sequence},
                       {"at", format_time(recorded.event.at)},
                       {"kind", recorded.type},
                       {"type", recorded.type},
                       {"title", event_title(recorded.type)},
                       {"actor", actor_json(wf, recorded.event.actor, display_name)}};
    if (item_known) {
      const auto& item = wf.items[*f.item];
      entry["item"] = ref(item.id, item.title);
      const auto& states = wf.lifecycles[item.lifecycle].states;
      if (f.from && *f.from < states.size()) entry["from"] = ref(states[*f.from].id, states[*f.from].title);
      if (f.to && *f.to < states.size()) entry["to"] = ref(states[*f.to].id, states[*f.to].title);
      if (f.special && *f.special < item.specials.size()) {
        // 开始特别程序「现场踏勘」: the title names the procedure.
        const auto& special = item.specials[*f.special];
        entry["special_procedure"] = ref(special.id, special.title);
        entry["title"] = std::string(event_title(recorded.type)) + "「" + special.title + "」";
      }
    }
    if (material_known) entry["material"] = ref(wf.materials[*f.material].id, wf.materials[*f.material].title);
    if (!f.event.empty()) {
      entry["event"] = f.event;
      // The title the item's lifecycle gives the event (准予许可), else the built-in one.
      entry["event_title"] = item_known ? std::string(wf.lifecycles[wf.items[*f.item].lifecycle].event_title(f.event))
                                        : std::string(engine::event_title(f.event));
    }
    if (!f.reason.empty()) {
      entry["reason"] = masked(f.reason);
    }
    if (!f.note.empty()) entry["note"] = masked(f.note);
    out.push_back(std::move(entry));
  }
  return out;
}

namespace {
void mask_strings(json::value& value) {
  if (value.is_string()) {
    value = json::string(adapters::mask_identifiers(value.as_string()));
  } else if (value.is_array()) {
    for (auto& element : value.as_array()) mask_strings(element);
  } else if (value.is_object()) {
    for (auto& member : value.as_object()) mask_strings(member.value());
  }
}
}  // namespace

json::value history_payload_json(std::string_view type, std::string_view payload) {
  boost::system::error_code ec;
  json::value parsed = json::parse(payload, ec);
  if (ec) return nullptr;
  if (type == "CaseStarted" && parsed.is_object()) parsed.as_object().erase("slots");
  mask_strings(parsed);
  return parsed;
}

}  // namespace onevisit::views
