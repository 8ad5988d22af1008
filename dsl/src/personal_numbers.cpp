#include <onevisit/dsl/personal_numbers.hpp>

#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/source.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

namespace onevisit::dsl {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// One character of the scanned text: its bytes and how the patterns see it.
struct Unit {
  std::size_t begin = 0;
  std::uint8_t length = 0;
  char ascii = 0;     ///< the character as ASCII (full-width forms folded); 0 for any other
  bool valid = true;  ///< false: a byte that is not part of a valid UTF-8 sequence
  std::size_t end() const { return begin + length; }
};

// The code point at text[i] and its length in bytes; nullopt for a byte that does not start
// a valid sequence (overlong forms, surrogates and values past U+10FFFF included).
std::optional<std::pair<std::uint32_t, std::size_t>> decode(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) return std::pair<std::uint32_t, std::size_t>{c, 1};
  std::size_t length = 0;
  std::uint32_t min = 0, cp = 0;
  if ((c & 0xE0) == 0xC0) {
    length = 2, min = 0x80, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    length = 3, min = 0x800, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    length = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return std::nullopt;
  }
  if (text.size() - i < length) return std::nullopt;
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (next & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  return std::pair<std::uint32_t, std::size_t>{cp, length};
}

// People type numbers in full-width forms too (Chinese input methods): fold those to ASCII.
char fold(std::uint32_t cp) {
  if (cp > 0 && cp < 0x80) return static_cast<char>(cp);
  if (cp >= 0xFF10 && cp <= 0xFF19) return static_cast<char>('0' + (cp - 0xFF10));
  if (cp >= 0xFF21 && cp <= 0xFF3A) return static_cast<char>('A' + (cp - 0xFF21));
  if (cp >= 0xFF41 && cp <= 0xFF5A) return static_cast<char>('a' + (cp - 0xFF41));
  switch (cp) {
    case 0xFF0B:
      return '+';
    case 0xFF0D:
    case 0x2010:
    case 0x2011:
    case 0x2012:
    case 0x2013:
    case 0x2014:
    case 0x2212:
      return '-';
    case 0xFF08:
      return '(';
    case 0xFF09:
      return ')';
    case 0xFF0E:
      return '.';
    case 0x3000:
      return ' ';
    default:
      return 0;
  }
}

std::vector<Unit> decode_units(std::string_view text) {
  std::vector<Unit> units;
  units.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (const auto decoded = decode(text, i)) {
      units.push_back({i, static_cast<std::uint8_t>(decoded->second), fold(decoded->first), true});
      i += decoded->second;
    } else {
      units.push_back({i, 1, 0, false});
      ++i;
    }
  }
  return units;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_separator(char c) { return c == ' ' || c == '-' || c == '(' || c == ')'; }

// The old 15-digit ID number: province code, county, birth date YYMMDD (19YY), sequence.
bool valid_old_idcard(std::string_view d) {
  static constexpr std::array<int, 34> kProvinces = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34,
                                                     35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
                                                     53, 54, 61, 62, 63, 64, 65, 71, 81, 82};
  if (d.size() != 15) return false;
  const int province = (d[0] - '0') * 10 + (d[1] - '0');
  if (std::find(kProvinces.begin(), kProvinces.end(), province) == kProvinces.end()) return false;
  auto two = [&](std::size_t at) { return (d[at] - '0') * 10 + (d[at + 1] - '0'); };
  return is_real_date(1900 + two(6), two(8), two(10));
}

// A landline with its leading 0: 010 and 02x have 8-digit numbers, the other area codes
// (4 digits with the 0) 7 or 8; local numbers never start with 0 or 1.
bool valid_landline(std::string_view d) {
  if (d.size() < 10 || d[0] != '0' || d[1] == '0') return false;
  const std::size_t area = (d[1] == '1' || d[1] == '2') ? 3 : 4;
  const std::size_t local = d.size() - area;
  if (local != 8 && !(area == 4 && local == 7)) return false;
  return d[area] >= '2' && d[area] <= '9';
}

// A candidate found at one position: the units it spans and those whose characters count
// (the digits, or the code's characters); `prefix` of those are the country code.
struct Candidate {
  std::size_t first = 0;
  std::size_t last = 0;  ///< exclusive
  PersonalNumberKind kind = PersonalNumberKind::mobile_phone;
  std::array<std::size_t, 18> characters{};  // no number has more than 18
  std::size_t count = 0;
  std::size_t prefix = 0;
};

class Scanner {
 public:
  Scanner(const std::vector<Unit>& units, PersonalNumberScan scan)
      : u_(units), n_(units.size()), scan_(scan) {}

  std::vector<Candidate> all() const {
    std::vector<Candidate> found;
    for (std::size_t s = 0; s < n_;) {
      if (auto c = at(s)) {
        s = c->last;
        found.push_back(std::move(*c));
      } else {
        ++s;
      }
    }
    return found;
  }

 private:
  char ch(std::size_t i) const { return i < n_ ? u_[i].ascii : 0; }

  // Whether unit i is where the number to its right begins (a number is found whole).
  bool starts_after(std::size_t i) const {
    if (i == 0) return true;
    const char before = ch(i - 1);
    if (is_digit(before)) return false;
    if (is_letter(before)) return scan_ == PersonalNumberScan::identifier;
    if (before == '.' && i >= 2 && is_digit(ch(i - 2))) return false;  // decimals: 0.13812345678
    return true;
  }
  // Whether the number ends after unit i.
  bool ends_after(std::size_t i, bool letters_separate) const {
    const char after = ch(i + 1);
    if (i + 1 >= n_) return true;
    if (is_digit(after)) return false;
    if (is_letter(after)) return letters_separate;
    if (after == '.' && is_digit(ch(i + 2))) return false;  // amounts: 13812345678.00
    return true;
  }

  std::optional<Candidate> at(std::size_t s) const {
    const char c = ch(s);
    if (!is_digit(c) && c != '+' && c != '(' && !is_letter(c)) return std::nullopt;
    if (!starts_after(s)) return std::nullopt;
    if (auto number = digits_at(s)) return number;
    return credit_code_at(s);
  }

  // Telephone and ID numbers: digits in groups joined by short runs of separators, after an
  // optional "(" and "+"; the longest reading that is one of the patterns wins.
  std::optional<Candidate> digits_at(std::size_t s) const {
    std::size_t p = s;
    if (ch(p) == '(') ++p;
    const bool plus = ch(p) == '+';
    if (plus) ++p;
    if (!is_digit(ch(p))) return std::nullopt;
    // Fixed buffers: this runs at every number in every text shown or logged.
    Candidate found;
    auto& digits = found.characters;
    std::size_t count = 0;
    char d[18];
    std::size_t group = 0;
    for (std::size_t q = p; q < n_ && count < 18;) {
      if (is_digit(ch(q))) {
        d[count] = ch(q);
        digits[count++] = q++;
        ++group;
        continue;
      }
      // Separators only between groups of two digits or more: "138 1234 5678", "+86 10 …",
      // not "1 2 3 …".
      std::size_t r = q;
      while (r < n_ && r - q < 3 && is_separator(ch(r))) ++r;
      if (group < 2 || r == q || !is_digit(ch(r))) break;
      group = 0;
      q = r;
    }
    const bool letters_separate = scan_ == PersonalNumberScan::identifier;
    found.first = s;
    // An ID number's check character X follows its 17 digits directly.
    if (!plus && count >= 17) {
      const std::size_t x = digits[16] + 1;
      if ((ch(x) == 'X' || ch(x) == 'x') && ends_after(x, letters_separate) &&
          idcard_checksum_valid(std::string(d, 17) + 'X')) {
        digits[17] = x;
        found.last = x + 1, found.count = 18, found.kind = PersonalNumberKind::resident_id;
        return found;
      }
    }
    for (std::size_t k = count; k >= 7; --k) {
      if (!ends_after(digits[k - 1], letters_separate)) continue;
      if (const auto kind = classify(std::string_view(d, k), plus)) {
        found.last = digits[k - 1] + 1, found.count = k;
        found.kind = kind->first, found.prefix = kind->second;
        return found;
      }
    }
    return std::nullopt;
  }

  // The kind of number and how many of its digits are a country code.
  static std::optional<std::pair<PersonalNumberKind, std::size_t>> classify(std::string_view d, bool plus) {
    using Kind = PersonalNumberKind;
    if (!plus) {
      if (d.size() == 18 && idcard_checksum_valid(d)) return std::pair{Kind::resident_id, std::size_t{0}};
      if (valid_old_idcard(d)) return std::pair{Kind::old_resident_id, std::size_t{0}};
      if (valid_mobile_phone(d)) return std::pair{Kind::mobile_phone, std::size_t{0}};
      if (valid_landline(d)) return std::pair{Kind::landline_phone, std::size_t{0}};
    }
    // After a country code (a "+" must be followed by 86): a mobile, or a landline whose area
    // code drops its 0.
    for (const std::string_view country : {"0086", "86"}) {
      if (!d.starts_with(country) || (plus && country == "0086")) continue;
      const auto national = d.substr(country.size());
      if (valid_mobile_phone(national)) return std::pair{Kind::mobile_phone, country.size()};
      if (valid_landline("0" + std::string(national))) return std::pair{Kind::landline_phone, country.size()};
    }
    return std::nullopt;
  }

  // A unified social credit code: 18 characters, the registering authority (1-9, A, N, Y),
  // the kind, a 6-digit region code, the organisation code and the check character.
  std::optional<Candidate> credit_code_at(std::size_t s) const {
    static constexpr std::string_view kAuthorities = "123456789ANYany";
    if (s + 18 > n_ || kAuthorities.find(ch(s)) == std::string_view::npos) return std::nullopt;
    if (s > 0 && (is_letter(ch(s - 1)) || is_digit(ch(s - 1)))) return std::nullopt;
    char code[18];
    for (std::size_t i = 0; i < 18; ++i) {
      const char c = ch(s + i);
      if (!is_digit(c) && !is_letter(c)) return std::nullopt;
      code[i] = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    }
    const char after = ch(s + 18);
    if (is_digit(after) || is_letter(after)) return std::nullopt;
    for (std::size_t i = 2; i < 8; ++i) {
      if (!is_digit(code[i])) return std::nullopt;
    }
    if (!valid_uscc(std::string_view(code, 18))) return std::nullopt;
    Candidate found{s, s + 18, PersonalNumberKind::credit_code, {}, 18, 0};
    for (std::size_t i = 0; i < 18; ++i) found.characters[i] = s + i;
    return found;
  }

  const std::vector<Unit>& u_;
  const std::size_t n_;
  const PersonalNumberScan scan_;
};

void append_unit(std::string& out, std::string_view text, const Unit& unit) {
  out.append(unit.valid ? text.substr(unit.begin, unit.length) : kReplacement);
}

// Texts without a digit (ASCII or full-width) hold no number: most log lines and notes.
bool may_hold_number(std::string_view text) {
  for (const char c : text) {
    if (is_digit(c) || c == '\xEF') return true;  // 0xEF leads the full-width forms
  }
  return false;
}

}  // namespace

std::string_view title_of(PersonalNumberKind kind) {
  switch (kind) {
    case PersonalNumberKind::resident_id:
      return "身份证号码";
    case PersonalNumberKind::old_resident_id:
      return "15位身份证号码";
    case PersonalNumberKind::credit_code:
      return "统一社会信用代码";
    case PersonalNumberKind::mobile_phone:
      return "手机号码";
    case PersonalNumberKind::landline_phone:
      return "固定电话号码";
  }
  return "个人号码";
}

std::string_view to_string(PersonalNumberKind kind) {
  switch (kind) {
    case PersonalNumberKind::resident_id:
      return "ID number";
    case PersonalNumberKind::old_resident_id:
      return "15-digit ID number";
    case PersonalNumberKind::credit_code:
      return "credit code";
    case PersonalNumberKind::mobile_phone:
      return "mobile phone number";
    case PersonalNumberKind::landline_phone:
      return "landline phone number";
  }
  return "personal number";
}

std::vector<PersonalNumber> find_personal_numbers(std::string_view text, PersonalNumberScan scan) {
  if (!may_hold_number(text)) return {};
  const auto units = decode_units(text);
  std::vector<PersonalNumber> found;
  for (const auto& c : Scanner(units, scan).all()) {
    found.push_back({units[c.first].begin, units[c.last - 1].end(), c.kind});
  }
  return found;
}

bool contains_personal_number(std::string_view text, PersonalNumberScan scan) {
  return !find_personal_numbers(text, scan).empty();
}

std::string mask_personal_numbers(std::string_view text, PersonalNumberScan scan) {
  if (!may_hold_number(text)) return to_valid_utf8(text);
  const auto units = decode_units(text);
  const auto found = Scanner(units, scan).all();
  if (found.empty()) return to_valid_utf8(text);
  std::vector<bool> hidden(units.size(), false);
  for (const auto& c : found) {
    // Keep the country code, the first 3 and the last 2 characters of the number itself.
    const std::size_t count = c.count - c.prefix;
    for (std::size_t i = 3; i + 2 < count; ++i) hidden[c.characters[c.prefix + i]] = true;
  }
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < units.size(); ++i) {
    if (hidden[i]) {
      out.push_back('*');
    } else {
      append_unit(out, text, units[i]);
    }
  }
  return out;
}

std::string mask_applicant(std::string_view applicant) {
  const std::string text = to_valid_utf8(applicant);
  const auto units = decode_units(text);
  auto digit = [](const Unit& u) { return is_digit(u.ascii); };
  if (std::any_of(units.begin(), units.end(), digit)) return mask_idcard(text);
  // A name: its first character stays, as names are masked on Chinese documents ("张**").
  if (units.size() <= 1) return std::string(units.size(), '*');
  std::string out(text.substr(0, units[1].begin));
  out.append(units.size() - 1, '*');
  return out;
}

std::string to_valid_utf8(std::string_view text) { return truncate_utf8(text, std::string_view::npos); }

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes && find_invalid_utf8(text) == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (std::size_t i = 0; i < text.size();) {
    const auto decoded = decode(text, i);
    const std::string_view character = decoded ? text.substr(i, decoded->second) : kReplacement;
    if (out.size() + character.size() > max_bytes) break;
    out.append(character);
    i += decoded ? decoded->second : 1;
  }
  return out;
}

}  // namespace onevisit::dsl
