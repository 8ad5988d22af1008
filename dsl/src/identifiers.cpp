#include <onevisit/dsl/identifiers.hpp>

#include <onevisit/dsl/personal_numbers.hpp>

#include <onevisit/dsl/expr.hpp>
#include <onevisit/dsl/source.hpp>

#include <algorithm>
#include <array>
#include <vector>

namespace onevisit::dsl {

bool is_real_date(int year, int month, int day) {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= kDays[static_cast<std::size_t>(month - 1)] + (month == 2 && leap ? 1 : 0);
}

std::optional<char> idcard_check_character(std::string_view first17) {
  // Weights are 2^(18-i) mod 11; the remainder picks from "10X98765432".
  static constexpr std::array<int, 17> kWeights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr std::string_view kCheck = "10X98765432";
  if (first17.size() != 17) return std::nullopt;
  int sum = 0;
  for (std::size_t i = 0; i < 17; ++i) {
    const char c = first17[i];
    if (c < '0' || c > '9') return std::nullopt;
    sum += (c - '0') * kWeights[i];
  }
  return kCheck[static_cast<std::size_t>(sum % 11)];
}

std::optional<CivilDate> idcard_birth_date(std::string_view id) {
  if (id.size() != 18) return std::nullopt;
  auto digits = [&](std::size_t from, std::size_t count) {
    int value = 0;
    for (std::size_t i = from; i < from + count; ++i) {
      if (id[i] < '0' || id[i] > '9') return -1;
      value = value * 10 + (id[i] - '0');
    }
    return value;
  };
  const CivilDate date{digits(6, 4), digits(10, 2), digits(12, 2)};
  if (date.year < 1800 || !is_real_date(date.year, date.month, date.day)) return std::nullopt;
  return date;
}

namespace {
// Province-level codes of GB/T 2260, with 71 (Taiwan), 81 and 82 (Hong Kong, Macao) and 83
// (the residence permits of Taiwan residents, GB/T 2260 has no 83 but the permits use 830000).
bool known_province(int code) {
  static constexpr std::array<int, 35> kProvinces = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43,
                                                     44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83};
  return std::find(kProvinces.begin(), kProvinces.end(), code) != kProvinces.end();
}

}  // namespace

std::optional<IdcardProblem> idcard_problem(std::string_view id, std::optional<std::int64_t> today) {
  if (id.size() != 18) return IdcardProblem::length;
  for (std::size_t i = 0; i < 17; ++i) {
    if (id[i] < '0' || id[i] > '9') return IdcardProblem::characters;
  }
  const char last = id[17] == 'x' ? 'X' : id[17];
  if (!((last >= '0' && last <= '9') || last == 'X')) return IdcardProblem::characters;
  const auto birth = idcard_birth_date(id);
  if (!birth) return IdcardProblem::birth_date;
  if (today && days_from_civil(*birth) > *today) return IdcardProblem::future_birth;
  if (!known_province((id[0] - '0') * 10 + (id[1] - '0'))) return IdcardProblem::region;
  if (last != *idcard_check_character(id.substr(0, 17))) return IdcardProblem::check_character;
  return std::nullopt;
}

std::string_view describe(IdcardProblem problem) {
  switch (problem) {
    case IdcardProblem::length: return "应为 18 位";
    case IdcardProblem::characters: return "应为 17 位数字加 1 位数字或 X";
    case IdcardProblem::birth_date: return "第 7 至 14 位的出生日期不是有效日期";
    case IdcardProblem::future_birth: return "出生日期晚于今天";
    case IdcardProblem::region: return "前两位的省级行政区划代码不存在";
    case IdcardProblem::check_character: return "末位校验码不符（GB 11643）";
  }
  return "";
}

bool valid_idcard(std::string_view id, std::optional<std::int64_t> today) { return !idcard_problem(id, today); }

bool idcard_checksum_valid(std::string_view id) {
  if (id.size() != 18) return false;
  const auto expected = idcard_check_character(id.substr(0, 17));
  if (!expected) return false;
  const char last = id[17] == 'x' ? 'X' : id[17];
  return last == *expected && idcard_birth_date(id).has_value();
}

namespace {
constexpr std::string_view kUsccCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY";
int uscc_value(char c) {
  const auto pos = kUsccCharset.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}
}  // namespace

std::optional<char> uscc_check_character(std::string_view first17) {
  // Weights are 3^(i-1) mod 31; check = 31 - (sum mod 31), with 31 meaning 0.
  static constexpr std::array<int, 17> kWeights = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
  if (first17.size() != 17) return std::nullopt;
  int sum = 0;
  for (std::size_t i = 0; i < 17; ++i) {
    const int v = uscc_value(first17[i]);
    if (v < 0) return std::nullopt;
    sum += v * kWeights[i];
  }
  const int check = (31 - sum % 31) % 31;
  return kUsccCharset[static_cast<std::size_t>(check)];
}

std::optional<UsccProblem> uscc_problem(std::string_view code) {
  if (code.size() != 18) return UsccProblem::length;
  for (const char c : code) {
    if (uscc_value(c) < 0) return UsccProblem::characters;
  }
  if (code[17] != *uscc_check_character(code.substr(0, 17))) return UsccProblem::check_character;
  return std::nullopt;
}

std::string_view describe(UsccProblem problem) {
  switch (problem) {
    case UsccProblem::length: return "应为 18 位";
    case UsccProblem::characters: return "只能含数字和除 I、O、S、V、Z 以外的大写字母";
    case UsccProblem::check_character: return "末位校验码不符（GB 32100）";
  }
  return "";
}

bool valid_uscc(std::string_view code) { return !uscc_problem(code); }

std::string normalise_identifier(std::string_view text) {
  if (find_invalid_utf8(text) != std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    const std::string_view character = text.substr(i, length);
    i += length;
    // Full-width forms U+FF01..U+FF5E are ASCII 0x21..0x7E shifted by 0xFEE0 (EF BC 81 .. EF BD 9E).
    if (length == 3 && static_cast<unsigned char>(character[0]) == 0xEF) {
      const unsigned code = ((0xFu & static_cast<unsigned char>(character[0])) << 12) |
                            ((0x3Fu & static_cast<unsigned char>(character[1])) << 6) | (0x3Fu & static_cast<unsigned char>(character[2]));
      if (code >= 0xFF01 && code <= 0xFF5E) {
        out += static_cast<char>(code - 0xFEE0);
        continue;
      }
    }
    out += character;
  }
  // Blanks around it: ASCII white space, the ideographic space U+3000 and the no-break space.
  auto blank_at_front = [&](std::string_view s) -> std::size_t {
    if (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n')) return 1;
    if (s.starts_with("\xE3\x80\x80")) return 3;
    if (s.starts_with("\xC2\xA0")) return 2;
    return 0;
  };
  auto blank_at_back = [&](std::string_view s) -> std::size_t {
    if (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) return 1;
    if (s.ends_with("\xE3\x80\x80")) return 3;
    if (s.ends_with("\xC2\xA0")) return 2;
    return 0;
  };
  std::string_view trimmed = out;
  while (const auto n = blank_at_front(trimmed)) trimmed.remove_prefix(n);
  while (const auto n = blank_at_back(trimmed)) trimmed.remove_suffix(n);
  std::string result(trimmed);
  for (char& c : result) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return result;
}

namespace {
// Counts characters, not bytes: cutting a UTF-8 sequence apart made "张三丰" invalid text in
// JSON and in the log (issue 17).
std::string mask_middle(std::string_view raw, std::size_t keep_front, std::size_t keep_back) {
  const std::string text = to_valid_utf8(raw);  // so every byte that is no continuation starts a character
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  const std::size_t count = starts.size();
  if (count <= keep_front + keep_back + 1) return std::string(count, '*');
  std::string out = text.substr(0, starts[keep_front]);
  out.append(count - keep_front - keep_back, '*');
  out.append(text.substr(starts[count - keep_back]));
  return out;
}
}  // namespace

std::string mask_idcard(std::string_view id) { return mask_middle(id, 3, 2); }
std::string mask_phone(std::string_view phone) { return mask_middle(phone, 3, 2); }

bool valid_mobile_phone(std::string_view phone) {
  if (phone.size() != 11 || phone[0] != '1' || phone[1] < '3' || phone[1] > '9') return false;
  for (const char c : phone) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace onevisit::dsl
