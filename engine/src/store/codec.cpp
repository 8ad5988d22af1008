#include "store/codec.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace onevisit::engine::codec {

namespace json = boost::json;
using dsl::Value;
using dsl::ValueKind;

namespace {

// Values: [kind, payload] — kinds: n b i d s t u l (null bool int decimal string date
// duration list). Decimals travel as their exact units (1/10000).
json::value value_to_json(const Value& v) {
  switch (v.kind) {
    case ValueKind::null: return json::array{"n"};
    case ValueKind::boolean: return json::array{"b", v.boolean};
    case ValueKind::integer: return json::array{"i", v.integer};
    case ValueKind::decimal: return json::array{"d", v.integer};
    case ValueKind::text: return json::array{"s", json::string(v.text)};
    case ValueKind::date: return json::array{"t", v.integer};
    case ValueKind::duration: return json::array{"u", v.integer, static_cast<int>(v.unit)};
    case ValueKind::list: {
      json::array items;
      for (const auto& item : v.list) items.push_back(value_to_json(item));
      return json::array{"l", std::move(items)};
    }
  }
  return json::array{"n"};
}

std::expected<Value, std::string> value_from_json(const json::value& j, int depth = 0) {
  if (depth > 32) return std::unexpected(std::string("value nested too deeply"));
  const auto* a = j.if_array();
  if (!a || a->empty() || !a->at(0).is_string()) return std::unexpected(std::string("a value must be [kind, ...]"));
  const auto kind = a->at(0).as_string();
  auto int_at = [&](std::size_t i) -> std::optional<std::int64_t> {
    if (a->size() <= i || !a->at(i).is_int64()) return std::nullopt;
    return a->at(i).as_int64();
  };
  if (kind == "n") return Value{};
  if (kind == "b" && a->size() == 2 && a->at(1).is_bool()) return Value::of_bool(a->at(1).as_bool());
  if (kind == "i") {
    if (auto i = int_at(1)) return Value::of_int(*i);
  }
  if (kind == "d") {
    if (auto i = int_at(1)) return Value::of_decimal(dsl::Decimal{*i});
  }
  if (kind == "s" && a->size() == 2 && a->at(1).is_string()) return Value::of_text(std::string(a->at(1).as_string()));
  if (kind == "t") {
    if (auto i = int_at(1)) return Value::of_date(*i);
  }
  if (kind == "u") {
    const auto amount = int_at(1), unit = int_at(2);
    if (amount && unit && *unit >= 0 && *unit <= 2) return Value::of_duration(dsl::Decimal{*amount}, static_cast<dsl::TimeUnit>(*unit));
  }
  if (kind == "l" && a->size() == 2 && a->at(1).is_array()) {
    std::vector<Value> items;
    for (const auto& item : a->at(1).as_array()) {
      auto v = value_from_json(item, depth + 1);
      if (!v) return v;
      items.push_back(std::move(*v));
    }
    return Value::of_list(std::move(items));
  }
  return std::unexpected("malformed value of kind '" + std::string(kind) + "'");
}

json::object fields_to_json(const std::map<std::string, std::string>& fields) {
  json::object o;
  for (const auto& [k, v] : fields) o[k] = v;
  return o;
}

// Field readers that fail softly: the decoder collects the first problem.
struct Reader {
  const json::object& o;
  std::string error;

  std::int64_t integer(std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v || !v->is_int64()) {
      if (error.empty()) error = "missing number '" + std::string(key) + "'";
      return 0;
    }
    return v->as_int64();
  }
  std::uint32_t index(std::string_view key) { return static_cast<std::uint32_t>(integer(key)); }
  std::string text(std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v || !v->is_string()) {
      if (error.empty()) error = "missing text '" + std::string(key) + "'";
      return {};
    }
    return std::string(v->as_string());
  }
  bool boolean(std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v || !v->is_bool()) {
      if (error.empty()) error = "missing flag '" + std::string(key) + "'";
      return false;
    }
    return v->as_bool();
  }
  std::map<std::string, std::string> fields(std::string_view key) {
    std::map<std::string, std::string> out;
    const auto* v = o.if_contains(key);
    if (!v || !v->is_object()) return out;
    for (const auto& [k, x] : v->as_object()) {
      if (x.is_string()) out[std::string(k)] = std::string(x.as_string());
    }
    return out;
  }
};

// A JSON object written straight into text, member by member, as json::serialize writes a
// json::object built in the same order (the same bytes: strings are escaped by
// json::serialize itself). One payload per event: a tree of allocations per event was 6 % of
// a command in memory (docs/performance.md).
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) {
    out_.reserve(96);  // most payloads fit
    out_ = "{";
  }
  void finish() { out_ += '}'; }

  class Member {
   public:
    Member(ObjectWriter& writer, std::string_view key) : writer_(writer), key_(key) {}
    template <typename T>
    void operator=(const T& value) {
      writer_.key(key_);
      writer_.value(value);
    }

   private:
    ObjectWriter& writer_;
    std::string_view key_;
  };
  /// REQUIRES: each key once (as EventEncoder writes them).
  Member operator[](std::string_view key) { return Member(*this, key); }

 private:
  // Keys are the encoder's own names (ASCII letters and underscores): nothing to escape.
  void key(std::string_view k) {
    if (out_.size() > 1) out_ += ',';
    out_ += '"';
    out_ += k;
    out_ += "\":";
  }
  void value(const std::string& v) { out_ += json::serialize(std::string_view(v)); }
  void value(bool v) { out_ += v ? "true" : "false"; }
  void value(int v) { out_ += std::to_string(v); }
  void value(std::uint32_t v) { out_ += std::to_string(v); }
  void value(std::int64_t v) { out_ += std::to_string(v); }
  void value(std::uint64_t v) { out_ += std::to_string(v); }
  void value(const json::array& v) { out_ += json::serialize(v); }
  void value(const json::object& v) { out_ += json::serialize(v); }

  std::string& out_;
};

template <typename Object>
struct EventEncoder {
  Object& o;
  void operator()(const CaseStarted& e) {
    o["bundle"] = e.bundle_id;
    o["version"] = e.bundle_version;
    json::array slots;
    for (const auto& v : e.slots) slots.push_back(value_to_json(v));
    o["slots"] = std::move(slots);
    o["applicant"] = e.applicant_masked;
    o["channel"] = e.channel;
    if (e.calendar_version != 0) o["calendar_version"] = e.calendar_version;  // absent before versions
  }
  void operator()(const MaterialAttached& e) {
    o["material"] = e.material;
    o["hash"] = e.content_hash;
    o["file"] = e.file_name;
    o["elicense"] = e.from_elicense;
  }
  void operator()(const MaterialVerified& e) { o["material"] = e.material; }
  void operator()(const MaterialRejected& e) {
    o["material"] = e.material;
    o["reason"] = e.reason;
  }
  void operator()(const MaterialProduced& e) {
    o["material"] = e.material;
    o["by"] = e.by;
  }
  void operator()(const MaterialTolerated& e) {
    o["material"] = e.material;
    o["item"] = e.item;
  }
  void operator()(const ItemActivated& e) {
    o["item"] = e.item;
    o["state"] = e.state;
  }
  void operator()(const ItemNotApplicable& e) { o["item"] = e.item; }
  void operator()(const ItemCancelled& e) {
    o["item"] = e.item;
    o["because"] = e.because;
  }
  void operator()(const ItemTransitioned& e) {
    o["item"] = e.item;
    o["transition"] = e.transition;
    o["from"] = e.from;
    o["to"] = e.to;
    o["fields"] = fields_to_json(e.fields);
    if (e.for_applicant) o["for_applicant"] = true;  // absent in events before it existed
  }
  void operator()(const ClockPaused& e) {
    o["item"] = e.item;
    o["reason"] = e.reason;
  }
  void operator()(const ClockResumed& e) { o["item"] = e.item; }
  void operator()(const ItemWarned& e) { o["item"] = e.item; }
  void operator()(const ItemOverdue& e) { o["item"] = e.item; }
  void operator()(const SpecialProcedureStarted& e) {
    o["item"] = e.item;
    o["procedure"] = e.procedure;
    o["reason"] = e.reason;
  }
  void operator()(const SpecialProcedureEnded& e) {
    o["item"] = e.item;
    o["procedure"] = e.procedure;
    o["result"] = e.result;
  }
  void operator()(const SpecialProcedureWarned& e) {
    o["item"] = e.item;
    o["procedure"] = e.procedure;
  }
  void operator()(const SpecialProcedureOverdue& e) {
    o["item"] = e.item;
    o["procedure"] = e.procedure;
  }
  void operator()(const ItemPartDecided& e) {
    o["item"] = e.item;
    o["part"] = e.part;
    o["approved"] = e.approved;
    o["note"] = e.note;
  }
  void operator()(const ItemUrged& e) {
    o["item"] = e.item;
    o["note"] = e.note;
  }
  void operator()(const CalendarAdopted& e) {
    o["calendar"] = e.calendar;
    o["version"] = e.version;
    o["title"] = e.title;
    json::array moves;
    for (const auto& m : e.moves) moves.push_back(json::array{m.item, m.before, m.after});
    o["moves"] = std::move(moves);
  }
  void operator()(const CaseCompleted&) {}
  void operator()(const CaseWithdrawn& e) { o["reason"] = e.reason; }
  void operator()(const CaseDelivered& e) { o["channel"] = e.channel; }
  void operator()(const RectificationAnswered& e) { o["answer"] = e.answer; }
  void operator()(const DeliveryChosen& e) {
    o["method"] = e.method;
    o["recipient"] = e.recipient;
    o["mobile"] = e.mobile;
    o["address"] = e.address;
  }
  void operator()(const CaseRated& e) {
    o["level"] = e.level;
    o["comment"] = e.comment;
    if (e.rectification_due) o["rectification_due"] = *e.rectification_due;
  }
  void operator()(const PersonalDataErased& e) {
    json::array fields;
    for (const auto f : e.fields) fields.push_back(f);
    o["fields"] = std::move(fields);
    o["policy"] = e.policy;
  }
};

// Replaces every personal value inside `s`, longest first (so that a value containing another
// is replaced whole). Returns whether anything changed.
bool redact_text(std::string& s, const std::vector<std::string>& values) {
  bool changed = false;
  for (const auto& value : values) {
    for (auto at = s.find(value); at != std::string::npos; at = s.find(value, at + kErasedValue.size())) {
      s.replace(at, value.size(), kErasedValue);
      changed = true;
    }
  }
  return changed;
}

bool redact_json(json::value& v, const std::vector<std::string>& values, int depth = 0) {
  if (depth > 64) return false;
  bool changed = false;
  if (auto* s = v.if_string()) {
    std::string text(*s);
    if (redact_text(text, values)) {
      *s = text;
      changed = true;
    }
  } else if (auto* a = v.if_array()) {
    for (auto& item : *a) changed = redact_json(item, values, depth + 1) || changed;
  } else if (auto* o = v.if_object()) {
    for (auto& [key, item] : *o) changed = redact_json(item, values, depth + 1) || changed;
  }
  return changed;
}

}  // namespace

std::string encode_value(const Value& value) { return json::serialize(value_to_json(value)); }

std::expected<Value, std::string> decode_value(std::string_view text) {
  boost::system::error_code ec;
  const auto j = json::parse(text, ec);
  if (ec) return std::unexpected("not JSON: " + ec.message());
  return value_from_json(j);
}

std::string encode_event_payload(const Event& event) {
  std::string text;
  ObjectWriter o(text);
  o["actor"] = event.actor;
  std::visit(EventEncoder<ObjectWriter>{o}, event.body);
  o.finish();
  return text;
}

std::expected<Event, std::string> decode_event(std::string_view type, std::string_view payload, Timestamp at) {
  boost::system::error_code ec;
  const auto j = json::parse(payload, ec);
  if (ec || !j.is_object()) return std::unexpected("event payload is not a JSON object");
  Reader r{j.as_object(), {}};
  Event e;
  e.at = at;
  e.actor = r.o.contains("actor") ? r.text("actor") : "";
  if (type == "CaseStarted") {
    CaseStarted x;
    x.bundle_id = r.text("bundle");
    x.bundle_version = static_cast<int>(r.integer("version"));
    x.applicant_masked = r.text("applicant");
    // Cases started before channels were recorded were all taken at a window.
    if (r.o.contains("channel")) x.channel = r.text("channel");
    if (r.o.contains("calendar_version")) x.calendar_version = static_cast<int>(r.integer("calendar_version"));
    const auto* slots = r.o.if_contains("slots");
    if (!slots || !slots->is_array()) return std::unexpected(std::string("CaseStarted without slots"));
    for (const auto& s : slots->as_array()) {
      auto v = value_from_json(s);
      if (!v) return std::unexpected(v.error());
      x.slots.push_back(std::move(*v));
    }
    e.body = std::move(x);
  } else if (type == "MaterialAttached") {
    e.body = MaterialAttached{r.index("material"), r.text("hash"), r.text("file"), r.boolean("elicense")};
  } else if (type == "MaterialVerified") {
    e.body = MaterialVerified{r.index("material")};
  } else if (type == "MaterialRejected") {
    e.body = MaterialRejected{r.index("material"), r.text("reason")};
  } else if (type == "MaterialProduced") {
    e.body = MaterialProduced{r.index("material"), r.index("by")};
  } else if (type == "MaterialTolerated") {
    e.body = MaterialTolerated{r.index("material"), r.index("item")};
  } else if (type == "ItemActivated") {
    e.body = ItemActivated{r.index("item"), r.index("state")};
  } else if (type == "ItemNotApplicable") {
    e.body = ItemNotApplicable{r.index("item")};
  } else if (type == "ItemCancelled") {
    e.body = ItemCancelled{r.index("item"), r.index("because")};
  } else if (type == "ItemTransitioned") {
    e.body = ItemTransitioned{r.index("item"), r.index("transition"), r.index("from"), r.index("to"), r.fields("fields"),
                              r.o.contains("for_applicant") && r.boolean("for_applicant")};
  } else if (type == "ClockPaused") {
    e.body = ClockPaused{r.index("item"), r.text("reason")};
  } else if (type == "ClockResumed") {
    e.body = ClockResumed{r.index("item")};
  } else if (type == "ItemWarned") {
    e.body = ItemWarned{r.index("item")};
  } else if (type == "ItemOverdue") {
    e.body = ItemOverdue{r.index("item")};
  } else if (type == "SpecialProcedureStarted") {
    e.body = SpecialProcedureStarted{r.index("item"), r.index("procedure"), r.text("reason")};
  } else if (type == "SpecialProcedureEnded") {
    e.body = SpecialProcedureEnded{r.index("item"), r.index("procedure"), r.text("result")};
  } else if (type == "SpecialProcedureWarned") {
    e.body = SpecialProcedureWarned{r.index("item"), r.index("procedure")};
  } else if (type == "SpecialProcedureOverdue") {
    e.body = SpecialProcedureOverdue{r.index("item"), r.index("procedure")};
  } else if (type == "ItemPartDecided") {
    e.body = ItemPartDecided{r.index("item"), r.index("part"), r.boolean("approved"), r.text("note")};
  } else if (type == "ItemUrged") {
    e.body = ItemUrged{r.index("item"), r.text("note")};
  } else if (type == "CalendarAdopted") {
    CalendarAdopted x{r.text("calendar"), static_cast<int>(r.integer("version")), r.text("title"), {}};
    const auto* moves = r.o.if_contains("moves");
    if (!moves || !moves->is_array()) return std::unexpected(std::string("CalendarAdopted without moves"));
    for (const auto& m : moves->as_array()) {
      const auto* a = m.if_array();
      if (!a || a->size() != 3 || !(*a)[0].is_int64() || (*a)[0].as_int64() < 0 || !(*a)[1].is_int64() || !(*a)[2].is_int64()) {
        return std::unexpected(std::string("CalendarAdopted: a move is not [item, before, after]"));
      }
      x.moves.push_back({static_cast<ItemIndex>((*a)[0].as_int64()), (*a)[1].as_int64(), (*a)[2].as_int64()});
    }
    e.body = std::move(x);
  } else if (type == "CaseCompleted") {
    e.body = CaseCompleted{};
  } else if (type == "CaseWithdrawn") {
    e.body = CaseWithdrawn{r.text("reason")};
  } else if (type == "CaseDelivered") {
    e.body = CaseDelivered{r.text("channel")};
  } else if (type == "RectificationAnswered") {
    e.body = RectificationAnswered{r.text("answer")};
  } else if (type == "DeliveryChosen") {
    e.body = DeliveryChosen{r.text("method"), r.text("recipient"), r.text("mobile"), r.text("address")};
  } else if (type == "CaseRated") {
    CaseRated x{static_cast<int>(r.integer("level")), r.text("comment"), std::nullopt};
    if (r.o.contains("rectification_due")) x.rectification_due = r.integer("rectification_due");
    e.body = std::move(x);
  } else if (type == "PersonalDataErased") {
    PersonalDataErased x;
    x.policy = r.text("policy");
    const auto* fields = r.o.if_contains("fields");
    if (!fields || !fields->is_array()) return std::unexpected(std::string("PersonalDataErased without fields"));
    for (const auto& f : fields->as_array()) {
      if (!f.is_int64() || f.as_int64() < 0) return std::unexpected(std::string("PersonalDataErased: a field is not an index"));
      x.fields.push_back(static_cast<FieldIndex>(f.as_int64()));
    }
    e.body = std::move(x);
  } else {
    return std::unexpected("unknown event type '" + std::string(type) + "'");
  }
  if (!r.error.empty()) return std::unexpected(std::string(type) + ": " + r.error);
  return e;
}

std::string encode_case(const Case& c) {
  json::object o;
  o["id"] = c.id;
  o["bundle"] = c.bundle_id;
  o["bundle_version"] = c.bundle_version;
  o["version"] = c.version;
  o["status"] = static_cast<int>(c.status);
  o["started_at"] = c.started_at;
  o["updated_at"] = c.updated_at;
  o["applicant"] = c.applicant_masked;
  o["channel"] = c.channel;
  if (c.calendar_version != 0) o["calendar_version"] = c.calendar_version;
  json::array slots;
  for (const auto& v : c.slots) slots.push_back(value_to_json(v));
  o["slots"] = std::move(slots);
  json::array materials;
  for (const auto& m : c.materials) {
    materials.push_back(json::object{{"status", static_cast<int>(m.status)}, {"hash", m.content_hash}, {"file", m.file_name}, {"note", m.note}});
  }
  o["materials"] = std::move(materials);
  json::array items;
  for (const auto& i : c.items) {
    json::array pauses;
    for (const auto& [from, to] : i.pauses) pauses.push_back(json::array{from, to});
    json::array specials;
    for (const auto& run : i.specials) {
      specials.push_back(json::object{{"procedure", run.procedure},   {"started_at", run.started_at}, {"ended_at", run.ended_at},
                                      {"started_by", run.started_by}, {"ended_by", run.ended_by},     {"reason", run.reason},
                                      {"result", run.result},         {"light", static_cast<int>(run.light)}});
    }
    items.push_back(json::object{{"phase", static_cast<int>(i.phase)},
                                 {"state", i.state},
                                 {"started_at", i.started_at},
                                 {"clock_started_at", i.clock_started_at},
                                 {"specials", std::move(specials)},
                                 {"running_special", i.running_special ? static_cast<std::int64_t>(*i.running_special) : -1},
                                 {"entered_at", i.state_entered_at},
                                 {"paused_since", i.paused_since},
                                 {"pauses", std::move(pauses)},
                                 {"clerk_pause", i.paused_by_clerk},
                                 {"corrections", i.corrections},
                                 {"light", static_cast<int>(i.light)},
                                 {"finished_at", i.finished_at}});
    // Stays in clock-stopping states (kind, from, to); absent when there were none.
    if (!i.stays.empty()) {
      json::array stays;
      for (const auto& stay : i.stays) stays.push_back(json::array{static_cast<int>(stay.kind), stay.from, stay.to});
      items.back().as_object()["stays"] = std::move(stays);
    }
    // A joint item's parts (decision, at, by, note); absent for other items.
    if (!i.parts.empty()) {
      json::array parts;
      for (const auto& part : i.parts) {
        parts.push_back(json::object{{"decision", static_cast<int>(part.decision)}, {"at", part.at}, {"by", part.by}, {"note", part.note}});
      }
      items.back().as_object()["parts"] = std::move(parts);
    }
    // Absent in snapshots from before 督办 and for items not urged.
    if (i.urged_at != 0) {
      auto& item = items.back().as_object();
      item["urged_at"] = i.urged_at;
      item["urged_by"] = i.urged_by;
      item["urge_note"] = i.urge_note;
    }
  }
  o["items"] = std::move(items);
  if (c.rating) o["rating"] = *c.rating;
  o["rating_comment"] = c.rating_comment;
  o["delivery"] = c.delivery_channel;
  if (!c.delivery_choice.method.empty()) {
    o["delivery_choice"] = json::object{{"method", c.delivery_choice.method}, {"recipient", c.delivery_choice.recipient},
                                        {"mobile", c.delivery_choice.mobile}, {"address", c.delivery_choice.address}};
  }
  if (c.rectification_due) o["rectification_due"] = *c.rectification_due;
  if (c.rectification_answered_at != 0) {
    o["rectification_answer"] = c.rectification_answer;
    o["rectification_answered_at"] = c.rectification_answered_at;
  }
  if (c.personal_data_erased_at != 0) o["erased_at"] = c.personal_data_erased_at;
  return json::serialize(o);
}

std::expected<Case, std::string> decode_case(std::string_view text, const Workflow& wf) {
  boost::system::error_code ec;
  const auto j = json::parse(text, ec);
  if (ec || !j.is_object()) return std::unexpected(std::string("case snapshot is not a JSON object"));
  Reader r{j.as_object(), {}};
  Case c;
  c.id = r.text("id");
  c.bundle_id = r.text("bundle");
  c.bundle_version = static_cast<int>(r.integer("bundle_version"));
  c.version = static_cast<std::uint64_t>(r.integer("version"));
  const auto status = r.integer("status");
  if (status < 0 || status > 4) return std::unexpected(std::string("case snapshot has an unknown status"));
  c.status = static_cast<CaseStatus>(status);
  c.started_at = r.integer("started_at");
  c.updated_at = r.integer("updated_at");
  c.applicant_masked = r.text("applicant");
  if (r.o.contains("channel")) c.channel = r.text("channel");
  if (r.o.contains("calendar_version")) c.calendar_version = static_cast<int>(r.integer("calendar_version"));
  const auto* slots = r.o.if_contains("slots");
  const auto* materials = r.o.if_contains("materials");
  const auto* items = r.o.if_contains("items");
  if (!slots || !slots->is_array() || !materials || !materials->is_array() || !items || !items->is_array()) {
    return std::unexpected(std::string("case snapshot lacks slots, materials or items"));
  }
  for (const auto& s : slots->as_array()) {
    auto v = value_from_json(s);
    if (!v) return std::unexpected(v.error());
    c.slots.push_back(std::move(*v));
  }
  for (const auto& m : materials->as_array()) {
    if (!m.is_object()) return std::unexpected(std::string("malformed material in snapshot"));
    Reader mr{m.as_object(), {}};
    MaterialState s;
    const auto st = mr.integer("status");
    if (st < 0 || st > 4) return std::unexpected(std::string("unknown material status in snapshot"));
    s.status = static_cast<MaterialStatus>(st);
    s.content_hash = mr.text("hash");
    s.file_name = mr.text("file");
    s.note = mr.text("note");
    if (!mr.error.empty()) return std::unexpected(mr.error);
    c.materials.push_back(std::move(s));
  }
  for (const auto& i : items->as_array()) {
    if (!i.is_object()) return std::unexpected(std::string("malformed item in snapshot"));
    Reader ir{i.as_object(), {}};
    ItemState s;
    const auto phase = ir.integer("phase");
    const auto light = ir.integer("light");
    if (phase < 0 || phase > 4 || light < 0 || light > 2) return std::unexpected(std::string("unknown item phase or light in snapshot"));
    s.phase = static_cast<ItemPhase>(phase);
    s.state = ir.index("state");
    s.started_at = ir.integer("started_at");
    s.state_entered_at = ir.integer("entered_at");
    s.paused_since = ir.integer("paused_since");
    s.paused_by_clerk = ir.boolean("clerk_pause");
    s.corrections = static_cast<int>(ir.integer("corrections"));
    s.light = static_cast<Light>(light);
    s.finished_at = ir.integer("finished_at");
    if (ir.o.contains("urged_at")) {
      s.urged_at = ir.integer("urged_at");
      s.urged_by = ir.text("urged_by");
      s.urge_note = ir.text("urge_note");
    }
    if (const auto* pauses = ir.o.if_contains("pauses"); pauses && pauses->is_array()) {
      for (const auto& p : pauses->as_array()) {
        if (!p.is_array() || p.as_array().size() != 2 || !p.as_array()[0].is_int64() || !p.as_array()[1].is_int64()) {
          return std::unexpected(std::string("malformed pause in snapshot"));
        }
        s.pauses.emplace_back(p.as_array()[0].as_int64(), p.as_array()[1].as_int64());
      }
    }
    if (const auto* parts = ir.o.if_contains("parts"); parts && parts->is_array()) {
      for (const auto& p : parts->as_array()) {
        if (!p.is_object()) return std::unexpected(std::string("malformed joint part in snapshot"));
        Reader pr{p.as_object(), {}};
        JointPart part;
        const auto decision = pr.integer("decision");
        part.at = pr.integer("at");
        part.by = pr.text("by");
        part.note = pr.text("note");
        if (!pr.error.empty()) return std::unexpected(pr.error);
        if (decision < 0 || decision > static_cast<std::int64_t>(PartDecision::refused)) return std::unexpected(std::string("unknown joint part decision in snapshot"));
        part.decision = static_cast<PartDecision>(decision);
        s.parts.push_back(std::move(part));
      }
    }
    // Snapshots from before `pauses_clock as …` have none: their stays are not counted by kind.
    if (const auto* stays = ir.o.if_contains("stays"); stays && stays->is_array()) {
      for (const auto& p : stays->as_array()) {
        const auto* a = p.if_array();
        if (!a || a->size() != 3 || !(*a)[0].is_int64() || !(*a)[1].is_int64() || !(*a)[2].is_int64() ||
            (*a)[0].as_int64() < 0 || (*a)[0].as_int64() > static_cast<std::int64_t>(dsl::ClockStop::special)) {
          return std::unexpected(std::string("malformed clock stop in snapshot"));
        }
        s.stays.push_back(ClockStopStay{static_cast<dsl::ClockStop>((*a)[0].as_int64()), (*a)[1].as_int64(), (*a)[2].as_int64()});
      }
    }
    // Snapshots from before `starts_clock` counted every item's limit from its activation.
    s.clock_started_at = ir.o.contains("clock_started_at") ? ir.integer("clock_started_at") : s.started_at;
    if (const auto* specials = ir.o.if_contains("specials"); specials && specials->is_array()) {
      for (const auto& run : specials->as_array()) {
        if (!run.is_object()) return std::unexpected(std::string("malformed special procedure in snapshot"));
        Reader sr{run.as_object(), {}};
        SpecialProcedureRun x;
        x.procedure = sr.index("procedure");
        x.started_at = sr.integer("started_at");
        x.ended_at = sr.integer("ended_at");
        x.started_by = sr.text("started_by");
        x.ended_by = sr.text("ended_by");
        x.reason = sr.text("reason");
        x.result = sr.text("result");
        const auto run_light = sr.integer("light");
        if (!sr.error.empty()) return std::unexpected(sr.error);
        if (run_light < 0 || run_light > 2) return std::unexpected(std::string("unknown special procedure light in snapshot"));
        x.light = static_cast<Light>(run_light);
        s.specials.push_back(std::move(x));
      }
    }
    if (ir.o.contains("running_special")) {
      const auto running = ir.integer("running_special");
      if (running >= static_cast<std::int64_t>(s.specials.size())) return std::unexpected(std::string("snapshot names an unknown special procedure run"));
      if (running >= 0) s.running_special = static_cast<std::size_t>(running);
    }
    if (!ir.error.empty()) return std::unexpected(ir.error);
    c.items.push_back(std::move(s));
  }
  if (r.o.contains("rating")) c.rating = static_cast<int>(r.integer("rating"));
  c.rating_comment = r.text("rating_comment");
  c.delivery_channel = r.text("delivery");
  if (const auto* choice = r.o.if_contains("delivery_choice"); choice && choice->is_object()) {
    Reader dr{choice->as_object(), {}};
    c.delivery_choice = {dr.text("method"), dr.text("recipient"), dr.text("mobile"), dr.text("address")};
    if (!dr.error.empty()) return std::unexpected(dr.error);
  }
  if (r.o.contains("rectification_due")) c.rectification_due = r.integer("rectification_due");
  if (r.o.contains("rectification_answered_at")) {
    c.rectification_answer = r.text("rectification_answer");
    c.rectification_answered_at = r.integer("rectification_answered_at");
  }
  if (r.o.contains("erased_at")) c.personal_data_erased_at = r.integer("erased_at");
  if (!r.error.empty()) return std::unexpected(r.error);
  // The snapshot must fit the workflow it claims to run on.
  if (c.slots.size() != wf.scope().slot_count() || c.materials.size() != wf.materials.size() || c.items.size() != wf.items.size()) {
    return std::unexpected("case snapshot does not fit workflow " + wf.bundle_id + " v" + std::to_string(wf.version));
  }
  for (std::size_t i = 0; i < c.items.size(); ++i) {
    if (c.items[i].state >= wf.lifecycles[wf.items[i].lifecycle].states.size()) return std::unexpected(std::string("case snapshot names an unknown state"));
    for (const auto& run : c.items[i].specials) {
      if (run.procedure >= wf.items[i].specials.size()) return std::unexpected(std::string("case snapshot names an unknown special procedure"));
    }
    if (c.items[i].parts.size() > wf.items[i].joint.size()) return std::unexpected(std::string("case snapshot names an unknown joint part"));
  }
  return c;
}

std::expected<std::optional<std::string>, std::string> redact(std::string_view text, std::vector<std::string> values) {
  std::erase_if(values, [](const std::string& v) { return v.size() < 2; });
  std::sort(values.begin(), values.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  values.erase(std::unique(values.begin(), values.end()), values.end());
  boost::system::error_code ec;
  auto j = json::parse(text, ec);
  if (ec) return std::unexpected("not JSON: " + ec.message());
  if (values.empty() || !redact_json(j, values)) return std::optional<std::string>{};
  return std::optional<std::string>{json::serialize(j)};
}

}  // namespace onevisit::engine::codec
