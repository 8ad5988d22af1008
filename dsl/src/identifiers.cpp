#include <onevisit/dsl/identifiers.hpp>

#include <onevisit/dsl/personal_numbers.hpp>

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

bool valid_idcard(std::string_view id) {
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

bool valid_uscc(std::string_view code) {
  if (code.size() != 18) return false;
  const auto expected = uscc_check_character(code.substr(0, 17));
  return expected && uscc_value(code[17]) >= 0 && code[17] == *expected;
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
