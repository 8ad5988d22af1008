// The one detector of personal numbers in free text: resident ID numbers (GB 11643, 18
// characters with the check character, and the old 15-digit numbers), unified social credit
// codes (GB 32100) and telephone numbers (mainland mobiles with an optional +86 / 86 / 0086
// and separators, landlines with their area code). Every view, audit record, log line and
// error message that shows text a person typed masks it with mask_personal_numbers, and
// client-chosen identifiers (case ids) are refused when contains_personal_number finds one.
//
// Text is read as UTF-8 by code points: full-width digits (０-９), ＋, －, （）and the
// ideographic space count as their ASCII forms, so "１３８ １２３４ ５６７８" is found too.
// What is not masked on purpose: dates (2026-12-07, 20261207), amounts (12,345.67 and
// decimals), case numbers and ordinary numbers that fit none of the patterns. Numbers are
// found only whole: a digit run inside a longer number or glued to ASCII letters (hashes,
// generated ids) is not a match in `text` scans.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::dsl {

enum class PersonalNumberKind {
  resident_id,      ///< 18 characters, check character and birth date valid
  old_resident_id,  ///< 15 digits: province code and a birth date 19YYMMDD
  credit_code,      ///< unified social credit code, check character valid
  mobile_phone,     ///< 1[3-9] + 9 digits, optionally after +86, 86 or 0086
  landline_phone,   ///< 0 + area code + 7 or 8 digits (or +86 and the area code without 0)
};

/// "ID number", "credit code", "phone number": for messages.
std::string_view to_string(PersonalNumberKind kind);
/// 身份证号码, 统一社会信用代码, 手机号码 …: for messages people read.
std::string_view title_of(PersonalNumberKind kind);

/// How ASCII letters next to a number count.
enum class PersonalNumberScan {
  /// Free text: a number glued to ASCII letters or digits ("ab13812345678", a hex hash) is
  /// not one, so hashes and generated ids stay as they are.
  text,
  /// Identifiers chosen by a client (case ids): ASCII letters separate numbers, so
  /// "C13812345678" is a phone number in a case id.
  identifier,
};

struct PersonalNumber {
  std::size_t begin = 0;  ///< byte offsets into the scanned text, [begin, end)
  std::size_t end = 0;
  PersonalNumberKind kind = PersonalNumberKind::mobile_phone;
};

/// Every personal number in `text`, left to right, not overlapping.
std::vector<PersonalNumber> find_personal_numbers(std::string_view text,
                                                  PersonalNumberScan scan = PersonalNumberScan::text);

/// True when `text` holds at least one personal number.
bool contains_personal_number(std::string_view text, PersonalNumberScan scan = PersonalNumberScan::text);

/// `text` with every personal number masked: its first 3 and last 2 digits (or characters)
/// stay, every other one becomes '*', separators and a +86 prefix stay ("+86 138 **** **78",
/// "110*************2X"). The result is always valid UTF-8: bytes that are not become U+FFFD.
std::string mask_personal_numbers(std::string_view text, PersonalNumberScan scan = PersonalNumberScan::text);

/// Masks an applicant as lists and logs show them: a number (anything with a digit: an ID,
/// phone or credit code) keeps its first 3 and last 2 characters as mask_idcard does, a name
/// its first character ("张**"). By characters; the result is valid UTF-8.
std::string mask_applicant(std::string_view applicant);

/// `text` as valid UTF-8: every byte that is not part of a valid sequence becomes U+FFFD.
std::string to_valid_utf8(std::string_view text);

/// to_valid_utf8(text) cut to at most `max_bytes` bytes, never in the middle of a character:
/// for text shown or stored with a length limit.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

}  // namespace onevisit::dsl
