#include <onevisit/dsl/formatter.hpp>

#include <algorithm>

namespace onevisit::dsl {
namespace {

using namespace ast;

int precedence(const Expr& e) {
  switch (e.kind) {
    case ExprKind::binary:
      switch (e.op) {
        case Op::logical_or: return 1;
        case Op::logical_and: return 2;
        case Op::eq: case Op::ne: case Op::lt: case Op::le: case Op::gt: case Op::ge:
        case Op::in: case Op::not_in: return 4;
        case Op::add: case Op::sub: return 5;
        case Op::mul: case Op::div: return 6;
        default: return 9;
      }
    case ExprKind::unary: return e.op == Op::logical_not ? 3 : 7;
    default: return 9;
  }
}

std::string_view op_text(Op op) {
  switch (op) {
    case Op::logical_or: return "or";
    case Op::logical_and: return "and";
    case Op::logical_not: return "not";
    case Op::eq: return "==";
    case Op::ne: return "!=";
    case Op::lt: return "<";
    case Op::le: return "<=";
    case Op::gt: return ">";
    case Op::ge: return ">=";
    case Op::in: return "in";
    case Op::not_in: return "not in";
    case Op::add: return "+";
    case Op::sub: return "-";
    case Op::mul: return "*";
    case Op::div: return "/";
    case Op::negate: return "-";
    case Op::none: return "";
  }
  return "";
}

std::string_view unit_text(TimeUnit unit, bool plural) {
  switch (unit) {
    case TimeUnit::workday: return plural ? "workdays" : "workday";
    case TimeUnit::day: return plural ? "days" : "day";
    case TimeUnit::hour: return plural ? "hours" : "hour";
  }
  return "workdays";
}

void write_expr(std::string& out, const Expr& e);

void write_operand(std::string& out, const Expr& e, int min_precedence) {
  if (precedence(e) < min_precedence) {
    out += '(';
    write_expr(out, e);
    out += ')';
  } else {
    write_expr(out, e);
  }
}

void write_list(std::string& out, const std::vector<Expr>& items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    write_expr(out, items[i]);
  }
}

void write_expr(std::string& out, const Expr& e) {
  switch (e.kind) {
    case ExprKind::number:
      out += e.text;
      if (e.unit) {
        out += ' ';
        out += unit_text(*e.unit, e.unit_plural);
      }
      break;
    case ExprKind::string: out += quote(e.text); break;
    case ExprKind::boolean:
    case ExprKind::name: out += e.text; break;
    case ExprKind::null: out += "null"; break;
    case ExprKind::member:
      write_operand(out, e.children[0], 9);
      out += '.';
      out += e.text;
      break;
    case ExprKind::call:
      out += e.text;
      out += '(';
      write_list(out, e.children);
      out += ')';
      break;
    case ExprKind::list:
      out += '[';
      write_list(out, e.children);
      out += ']';
      break;
    case ExprKind::unary:
      if (e.op == Op::logical_not) {
        out += "not ";
        write_operand(out, e.children[0], 3);
      } else {
        out += '-';
        write_operand(out, e.children[0], 7);
      }
      break;
    case ExprKind::binary: {
      const int p = precedence(e);
      // Left-nested chains need no parentheses; a right operand of the same precedence
      // does (the grammar folds to the left). Comparisons do not chain at all.
      write_operand(out, e.children[0], p == 4 ? 5 : p);
      out += ' ';
      out += op_text(e.op);
      out += ' ';
      write_operand(out, e.children[1], p + 1);
      break;
    }
  }
}

std::string duration_text(const Duration& d) {
  return d.amount.text + " " + std::string(unit_text(d.unit, d.plural));
}

std::string names_text(const std::vector<Name>& names, std::string_view separator = ", ") {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += separator;
    out += names[i].text;
  }
  return out;
}

std::string retention_text(const Retention& r) {
  static constexpr std::string_view kUnits[][2] = {{"day", "days"}, {"month", "months"}, {"year", "years"}};
  std::string text = "retain " + r.amount.text + " " + std::string(kUnits[static_cast<int>(r.unit)][r.plural ? 1 : 0]);
  if (!r.personal.empty()) text += " personal " + names_text(r.personal);
  return text;
}

std::string type_text(const Type& t) {
  switch (t.kind) {
    case TypeKind::text: return "text";
    case TypeKind::integer: return "int";
    case TypeKind::decimal: return "decimal";
    case TypeKind::money: return "money";
    case TypeKind::boolean: return "bool";
    case TypeKind::date: return "date";
    case TypeKind::idcard: return "idcard";
    case TypeKind::uscc: return "uscc";
    case TypeKind::phone: return "phone";
    case TypeKind::enumeration: {
      std::string out = "enum(";
      for (std::size_t i = 0; i < t.values.size(); ++i) {
        if (i) out += ", ";
        out += t.values[i].name.text;
        if (t.values[i].title) out += " " + quote(t.values[i].title->value);
      }
      return out + ")";
    }
    case TypeKind::list: return "list(" + (t.element.empty() ? "text" : type_text(t.element[0])) + ")";
  }
  return "text";
}

std::string date_text(const Date& d) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", d.year, d.month, d.day);
  return buffer;
}

std::string time_text(const TimeOfDay& t) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%02d:%02d", t.hour, t.minute);
  return buffer;
}

std::string title_text(const std::optional<Text>& title) {
  return title ? " " + quote(title->value) : std::string();
}

std::string actions_text(const std::vector<Action>& actions) {
  std::string out;
  for (std::size_t i = 0; i < actions.size(); ++i) {
    if (i) out += ", ";
    out += actions[i].function.text + "(";
    write_list(out, actions[i].arguments);
    out += ")";
  }
  return out;
}

class Printer {
 public:
  Printer(const File& file, std::string_view source) : file_(file), source_(source) {}

  std::string run() {
    for (const auto& d : file_.declarations) declaration(d);
    flush_comments(UINT32_MAX);
    if (!out_.empty() && out_.back() != '\n') out_ += '\n';
    return std::move(out_);
  }

 private:
  const File& file_;
  std::string_view source_;
  std::string out_;
  int indent_ = 0;
  std::size_t next_comment_ = 0;
  std::uint32_t last_end_ = 0;
  bool at_block_start_ = true;

  bool blank_line_between(std::uint32_t from, std::uint32_t to) const {
    if (source_.empty() || from >= to || to > source_.size()) return false;
    int newlines = 0;
    for (std::uint32_t i = from; i < to; ++i) {
      const char c = source_[i];
      if (c == '\n') {
        if (++newlines == 2) return true;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        newlines = 0;
      }
    }
    return false;
  }

  void line_start(std::uint32_t offset) {
    if (!at_block_start_ && blank_line_between(last_end_, offset)) out_ += '\n';
    at_block_start_ = false;
    out_.append(static_cast<std::size_t>(indent_) * 2, ' ');
  }

  // Emits the comments that come before `offset`: own-line ones on their own lines,
  // trailing ones at the end of the line printed last.
  void flush_comments(std::uint32_t offset) {
    const auto& comments = file_.comments;
    while (next_comment_ < comments.size() && comments[next_comment_].span.begin < offset) {
      const Comment& c = comments[next_comment_++];
      if (!c.own_line && !out_.empty() && out_.back() == '\n') {
        out_.pop_back();
        out_ += "  " + c.text + "\n";
      } else {
        line_start(c.span.begin);
        out_ += c.text + "\n";
      }
      last_end_ = c.span.end;
    }
  }

  void statement(Span span, const std::string& text) {
    flush_comments(span.begin);
    line_start(span.begin);
    out_ += text + "\n";
    last_end_ = span.end;
  }

  void open_block(Span span, const std::string& header) {
    flush_comments(span.begin);
    line_start(span.begin);
    out_ += header + " {\n";
    last_end_ = span.begin;
    ++indent_;
    at_block_start_ = true;
  }

  void close_block(Span span) {
    // Comments inside the block, before its closing brace.
    flush_comments(span.end > 0 ? span.end - 1 : 0);
    --indent_;
    at_block_start_ = false;
    out_.append(static_cast<std::size_t>(indent_) * 2, ' ');
    out_ += "}\n";
    last_end_ = span.end;
  }

  void declaration(const Declaration& d) {
    switch (d.kind) {
      case DeclarationKind::import: statement(d.span, "import " + quote(d.import->path.value)); break;
      case DeclarationKind::department: department(*d.department); break;
      case DeclarationKind::material: material(*d.material); break;
      case DeclarationKind::item: item(*d.item); break;
      case DeclarationKind::lifecycle: lifecycle(*d.lifecycle); break;
      case DeclarationKind::calendar: calendar(*d.calendar); break;
      case DeclarationKind::decision: decision(*d.decision); break;
      case DeclarationKind::bundle: bundle(*d.bundle); break;
    }
  }

  void department(const Department& d) {
    std::string text = "department " + d.id.text + title_text(d.title);
    if (d.adapter) text += " adapter " + d.adapter->text;
    if (d.kind) text += *d.kind == DepartmentKind::organisation ? " kind organisation" : " kind government";
    statement(d.span, text);
  }

  void material(const Material& m) {
    std::string text = "material " + m.id.text + title_text(m.title);
    for (const auto& o : m.options) {
      switch (o.kind) {
        case MaterialOptionKind::upload: text += " upload " + names_text(o.names); break;
        case MaterialOptionKind::elicense:
          text += " from elicense " + quote(o.text->value);
          if (!o.names.empty()) text += " of " + o.names[0].text;
          break;
        case MaterialOptionKind::produced_by: text += " produced_by " + names_text(o.names); break;
        case MaterialOptionKind::original: text += " original"; break;
        case MaterialOptionKind::secondary: text += " secondary"; break;
        case MaterialOptionKind::when: text += " when " + format_expression(*o.expr); break;
      }
    }
    statement(m.span, text);
  }

  std::string item_member(const ItemMember& m) {
    switch (m.kind) {
      case ItemMemberKind::code: return "code " + quote(m.text->value);
      case ItemMemberKind::kind: return "kind " + names_text(m.names);
      case ItemMemberKind::immediate: return "immediate";
      case ItemMemberKind::limit:
        return "limit " + duration_text(*m.duration) +
               (m.statutory ? " statutory " + duration_text(*m.statutory) : std::string());
      case ItemMemberKind::statutory: return "statutory " + duration_text(*m.duration);
      case ItemMemberKind::needs: return "needs " + names_text(m.names);
      case ItemMemberKind::produces: return "produces " + names_text(m.names);
      case ItemMemberKind::sends: return "sends " + names_text(m.names);
      case ItemMemberKind::special:
        return "special " + names_text(m.names) + (m.text ? " " + quote(m.text->value) : "") +
               " max " + duration_text(*m.duration) + (m.pauses_clock ? " pauses_clock" : "");
      case ItemMemberKind::tolerant: return "tolerant";
      case ItemMemberKind::lifecycle: return "lifecycle " + names_text(m.names);
      case ItemMemberKind::joint:
        return std::string("joint ") + (m.joint_rule == JointRule::any ? "any" : "all") + " with " + names_text(m.names);
    }
    return {};
  }

  void item(const Item& it) {
    std::string header = it.is_use ? "use " + it.id.text + (it.alias ? " as " + it.alias->text : "")
                                   : "item " + it.id.text + title_text(it.title) + " by " +
                                         (it.department ? it.department->text : "");
    if (!it.after.empty()) header += " after " + names_text(it.after);
    if (it.when) header += " when " + format_expression(*it.when);
    if (!it.has_body) {
      statement(it.span, header);
      return;
    }
    open_block(it.span, header);
    for (const auto& m : it.members) statement(m.span, item_member(m));
    close_block(it.span);
  }

  std::string transition_options(const std::vector<TransitionOption>& options) {
    std::string text;
    for (const auto& o : options) {
      switch (o.kind) {
        case TransitionOptionKind::roles: text += " by " + names_text(o.names); break;
        case TransitionOptionKind::guard: text += " when " + format_expression(*o.expr); break;
        case TransitionOptionKind::requires_fields: text += " requires " + names_text(o.names); break;
        case TransitionOptionKind::actions: text += " do " + actions_text(o.actions); break;
        case TransitionOptionKind::after: text += " after " + duration_text(*o.duration); break;
        case TransitionOptionKind::starts_clock: text += o.from_receipt ? " starts_clock from receipt" : " starts_clock"; break;
      }
    }
    return text;
  }

  void lifecycle(const Lifecycle& l) {
    open_block(l.span, "lifecycle " + l.id.text + title_text(l.title));
    for (const auto& m : l.members) {
      std::string text;
      switch (m.kind) {
        case LifecycleMemberKind::state:
          text = "state " + m.name.text + title_text(m.title);
          for (const auto flag : m.flags) {
            text += flag == StateFlag::initial       ? " initial"
                    : flag == StateFlag::final_state ? " final"
                    : flag == StateFlag::failed      ? " failed"
                                                     : " pauses_clock";
            if (flag == StateFlag::pauses_clock && m.clock_stop) {
              text += *m.clock_stop == ClockStop::waiting   ? " as waiting"
                      : *m.clock_stop == ClockStop::special ? " as special"
                                                            : " as correction";
            }
          }
          break;
        case LifecycleMemberKind::transition:
          text = "on " + m.name.text + title_text(m.title) + ": " + names_text(m.sources) + " -> " +
                 (m.target ? m.target->text : "") + transition_options(m.options);
          break;
        case LifecycleMemberKind::hook:
          text = "on " + m.name.text + " do " + actions_text(m.actions);
          break;
        case LifecycleMemberKind::warn:
          text = m.percent ? "warn at " + m.percent->text + "%" : "warn at " + duration_text(*m.left) + " left";
          break;
      }
      statement(m.span, text);
    }
    close_block(l.span);
  }

  void calendar(const Calendar& c) {
    open_block(c.span, "calendar " + c.id.text + title_text(c.title));
    for (const auto& m : c.members) {
      std::string text;
      switch (m.kind) {
        case CalendarMemberKind::include: text = "include " + names_text(m.names); break;
        case CalendarMemberKind::weekend: text = "weekend " + names_text(m.names, " "); break;
        case CalendarMemberKind::hours:
          text = "hours";
          for (const auto& r : m.hours) text += " " + time_text(r.from) + "-" + time_text(r.to);
          break;
        case CalendarMemberKind::holiday:
          text = "holiday " + date_text(*m.from) + (m.to ? ".." + date_text(*m.to) : "") + title_text(m.title);
          break;
        case CalendarMemberKind::workday: text = "workday " + date_text(*m.from) + title_text(m.title); break;
      }
      statement(m.span, text);
    }
    close_block(c.span);
  }

  void decision(const Decision& d) {
    std::string header = "decide " + d.id.text + title_text(d.title);
    if (d.has_parameters) {
      header += " (";
      for (std::size_t i = 0; i < d.parameters.size(); ++i) {
        if (i) header += ", ";
        header += d.parameters[i].name.text + ": " + type_text(d.parameters[i].type);
      }
      header += ")";
    }
    header += d.policy == HitPolicy::first ? " first" : d.policy == HitPolicy::unique ? " unique" : " collect";
    open_block(d.span, header);
    for (const auto& row : d.rows) {
      std::string text = row.condition ? "when " + format_expression(*row.condition) : "otherwise";
      text += " -> ";
      write_list(text, row.results);
      statement(row.span, text);
    }
    close_block(d.span);
  }

  std::string field_text(const Field& f) {
    std::string text = f.name.text + title_text(f.title) + ": " + type_text(f.type);
    for (const auto& o : f.options) {
      switch (o.kind) {
        case FieldOptionKind::required: text += " required"; break;
        case FieldOptionKind::default_value: text += " default " + format_expression(*o.expr); break;
        case FieldOptionKind::min: text += " min " + format_expression(*o.expr); break;
        case FieldOptionKind::max: text += " max " + format_expression(*o.expr); break;
        case FieldOptionKind::pattern: text += " pattern " + quote(o.text->value); break;
        case FieldOptionKind::when: text += " when " + format_expression(*o.expr); break;
      }
    }
    return text;
  }

  void bundle(const Bundle& b) {
    open_block(b.span, "bundle " + b.id.text + title_text(b.title) + " version " + b.version.text);
    for (const auto& m : b.members) {
      switch (m.kind) {
        case BundleMemberKind::promise: statement(m.span, "promise " + duration_text(*m.duration)); break;
        case BundleMemberKind::calendar: statement(m.span, "calendar " + names_text(m.names)); break;
        case BundleMemberKind::lifecycle: statement(m.span, "lifecycle " + names_text(m.names)); break;
        case BundleMemberKind::lead: statement(m.span, "lead " + names_text(m.names)); break;
        case BundleMemberKind::stages: statement(m.span, "stages " + names_text(m.names, " -> ")); break;
        case BundleMemberKind::form:
        case BundleMemberKind::situation:
          open_block(m.span, m.kind == BundleMemberKind::form ? "form" : "situation");
          for (const auto& f : m.fields) statement(f.span, field_text(f));
          close_block(m.span);
          break;
        case BundleMemberKind::rating:
          open_block(m.span, "rating");
          for (const auto& r : m.rating) {
            statement(r.span, r.kind == RatingMemberKind::bad_at_most ? "bad at most " + r.level->text
                                                                     : "rectify within " + duration_text(*r.within));
          }
          close_block(m.span);
          break;
        case BundleMemberKind::department: department(*m.department); break;
        case BundleMemberKind::material: material(*m.material); break;
        case BundleMemberKind::item: item(*m.item); break;
        case BundleMemberKind::decision: decision(*m.decision); break;
        case BundleMemberKind::retain: statement(m.span, retention_text(*m.retention)); break;
        case BundleMemberKind::check:
          statement(m.span, "check " + format_expression(*m.condition) + " " + quote(m.message->value));
          break;
      }
    }
    close_block(b.span);
  }
};

}  // namespace

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

std::string format_expression(const ast::Expr& expr) {
  std::string out;
  write_expr(out, expr);
  return out;
}

std::string format(const ast::File& file, std::string_view source) {
  return Printer(file, source).run();
}

}  // namespace onevisit::dsl
