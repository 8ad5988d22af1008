#include <onevisit/engine/search.hpp>

#include <algorithm>
#include <charconv>
#include <set>

namespace onevisit::engine {

namespace {

// Decodes UTF-8 into code points; nullopt for bytes that are not UTF-8.
std::optional<std::u32string> decode(std::string_view text) {
  std::u32string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    int extra = 0;
    char32_t cp = 0;
    if (b < 0x80) {
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      cp = b & 0x1F, extra = 1;
    } else if ((b & 0xF0) == 0xE0) {
      cp = b & 0x0F, extra = 2;
    } else if ((b & 0xF8) == 0xF0) {
      cp = b & 0x07, extra = 3;
    } else {
      return std::nullopt;
    }
    for (int k = 1; k <= extra; ++k) {
      if (i + k >= text.size()) return std::nullopt;
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (c & 0x3F);
    }
    out.push_back(cp);
    i += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

std::string encode(std::u32string_view text) {
  std::string out;
  for (const char32_t cp : text) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

bool is_space(char32_t c) { return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || c == 0x3000 || c == 0xA0; }
bool is_digit(char32_t c) { return c >= U'0' && c <= U'9'; }
bool is_upper(char32_t c) { return c >= U'A' && c <= U'Z'; }
bool is_han(char32_t c) { return (c >= 0x3400 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F); }

// The form people and search agree on: no spaces, full-width ASCII as ASCII (digits, letters,
// brackets typed with a Chinese input method), letters upper-case (a lower-case x in an ID
// number, a credit code typed in lower case), the middle dots of ethnic names as one.
std::u32string normalise(std::u32string_view text) {
  std::u32string out;
  for (char32_t c : text) {
    if (is_space(c)) continue;
    if (c >= 0xFF01 && c <= 0xFF5E) c = c - 0xFF01 + 0x21;
    if (c >= U'a' && c <= U'z') c = c - U'a' + U'A';
    if (c == 0x30FB || c == 0xFF65 || c == 0x2022) c = 0xB7;
    out.push_back(c);
  }
  return out;
}

bool is_number_text(std::u32string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char32_t c) { return is_digit(c) || is_upper(c); }) &&
         std::any_of(text.begin(), text.end(), is_digit);
}

// Characters a name of a person or a company holds.
bool name_character(char32_t c) {
  return is_han(c) || is_upper(c) || is_digit(c) || c == 0xB7 || c == U'(' || c == U')' || c == U'-' || c == U'&' || c == U'.';
}

void add_number_tokens(std::u32string_view number, std::set<std::string>& out) {
  if (number.size() < kTailMin) return;
  for (std::size_t n = kTailMin; n <= std::min(kTailMax, number.size()); ++n) out.insert("t:" + encode(number.substr(number.size() - n)));
  out.insert("t:" + encode(number));
}

void add_name_tokens(std::u32string_view name, std::set<std::string>& out) {
  if (name.size() < 2) return;
  for (std::size_t n = 2; n <= std::min(kNamePrefixMax, name.size()); ++n) out.insert("n:" + encode(name.substr(0, n)));
  if (name.size() > kNamePrefixMax) out.insert("f:" + encode(name));
}

std::string mask_number(std::u32string_view number) {
  std::u32string masked(number.size() > 4 ? number.size() - 4 : 0, U'*');
  masked += number.substr(number.size() > 4 ? number.size() - 4 : 0);
  return encode(masked);
}

}  // namespace

std::expected<SearchTerms, std::string> parse_search_query(std::string_view raw) {
  auto decoded = decode(raw);
  if (!decoded) return std::unexpected(std::string("查询内容不是有效的文字，请重新输入"));
  const auto text = normalise(*decoded);
  if (text.empty()) return std::unexpected(std::string("请输入办件编号、申请人或企业名称、证件号码或电话号码的后几位"));
  if (text.size() > 64) return std::unexpected(std::string("查询内容太长：请输入不超过 64 个字的名称或号码"));
  SearchTerms terms;
  // A whole case number: YYYYMMDD-N...
  if (text.size() > 9 && text[8] == U'-' && std::all_of(text.begin(), text.begin() + 8, is_digit) &&
      std::all_of(text.begin() + 9, text.end(), is_digit)) {
    terms.kind = SearchTerms::Kind::case_number;
    terms.case_id = encode(text);
    terms.masked = terms.case_id;
    return terms;
  }
  if (is_number_text(text)) {
    terms.kind = SearchTerms::Kind::number;
    terms.masked = mask_number(text);
    const bool digits = std::all_of(text.begin(), text.end(), is_digit);
    // Trailing digits of a case number: today's 12th case is "12" or "0012".
    if (digits && text.size() <= 6) {
      std::uint64_t sequence = 0;
      const std::string ascii = encode(text);
      std::from_chars(ascii.data(), ascii.data() + ascii.size(), sequence);
      if (sequence > 0) terms.tokens.push_back("c:" + std::to_string(sequence));
    }
    const bool tail = text.size() >= kTailMin && text.size() <= kTailMax;
    const bool whole = text.size() == 11 || text.size() == 15 || text.size() == 18 || (text.size() >= 7 && text[0] == U'0' && digits);
    if (tail || whole) terms.tokens.push_back("t:" + encode(text));
    if (terms.tokens.empty()) {
      if (text.size() < kTailMin) return std::unexpected(std::string("号码太短：请输入证件号码或电话号码的后 4 到 8 位，或办件编号的后几位"));
      return std::unexpected(std::string("请输入证件号码或电话号码的后 4 到 8 位，或完整的号码"));
    }
    return terms;
  }
  if (!std::all_of(text.begin(), text.end(), name_character) || !std::any_of(text.begin(), text.end(), [](char32_t c) { return is_han(c) || is_upper(c); })) {
    return std::unexpected(std::string("查询内容含有名称和号码中不会出现的字符：请只输入名称（汉字、字母）或号码"));
  }
  if (text.size() < 2) return std::unexpected(std::string("名称太短：请至少输入两个字"));
  terms.kind = SearchTerms::Kind::name;
  terms.masked = encode(text.substr(0, 1)) + std::string(text.size() - 1, '*');
  terms.tokens.push_back(text.size() <= kNamePrefixMax ? "n:" + encode(text) : "f:" + encode(text));
  return terms;
}

bool is_name_field(const FieldModel& field) {
  if (field.value_type.base != dsl::BaseType::text) return false;
  if (field.name.find("bank") != std::string::npos) return false;
  return field.name.ends_with("_name") || field.title.find("姓名") != std::string::npos ||
         field.title.find("名称") != std::string::npos;
}

std::vector<std::string> search_tokens(const Workflow& workflow, const Case& state) {
  std::set<std::string> tokens;
  // A generated case number "YYYYMMDD-NNNN": its sequence, for the trailing digits alone.
  if (state.id.size() > 9 && state.id[8] == '-' &&
      std::all_of(state.id.begin(), state.id.end(), [](char c) { return c == '-' || (c >= '0' && c <= '9'); })) {
    std::uint64_t sequence = 0;
    std::from_chars(state.id.data() + 9, state.id.data() + state.id.size(), sequence);
    if (sequence > 0) tokens.insert("c:" + std::to_string(sequence));
  }
  for (const auto& field : workflow.fields) {
    if (field.slot >= state.slots.size()) continue;
    const auto& value = state.slots[field.slot];
    if (value.kind != dsl::ValueKind::text || value.text == kErasedValue) continue;
    auto decoded = decode(value.text);
    if (!decoded) continue;
    const auto text = normalise(*decoded);
    switch (field.value_type.base) {
      case dsl::BaseType::idcard:
      case dsl::BaseType::uscc:
      case dsl::BaseType::phone: {
        // A phone may be written with separators or a +86: its digits are the number.
        std::u32string number;
        for (const char32_t c : text) {
          if (is_digit(c) || is_upper(c)) number.push_back(c);
        }
        if (field.value_type.base == dsl::BaseType::phone) {
          if (number.size() == 13 && number.starts_with(U"86")) number.erase(0, 2);
          if (number.size() == 15 && number.starts_with(U"0086")) number.erase(0, 4);
        }
        add_number_tokens(number, tokens);
        break;
      }
      default:
        if (is_name_field(field)) add_name_tokens(text, tokens);
        break;
    }
  }
  return {tokens.begin(), tokens.end()};
}

}  // namespace onevisit::engine
