// Chinese official identifiers: the resident ID number (GB 11643-1999) and the unified
// social credit code (GB 32100-2015), plus masking for logs.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace onevisit::dsl {

struct CivilDate {
  int year = 0, month = 0, day = 0;
  friend bool operator==(const CivilDate&, const CivilDate&) = default;
};

/// Why an ID number is not valid, in the order the checks run.
enum class IdcardProblem {
  length,           ///< not 18 characters
  characters,       ///< not 17 digits and a digit or X
  birth_date,       ///< the birth date (characters 7-14) is no real date, or before 1800
  future_birth,     ///< the birth date is after today
  region,           ///< the province code (characters 1-2) does not exist (GB/T 2260)
  check_character,  ///< the ISO 7064 MOD 11-2 check character does not match
};

/// The first problem of an 18-character resident ID number, none when it is valid. A lowercase
/// x is accepted (normalise_identifier upper-cases it). `today` (days since 1970-01-01) makes a
/// birth date after it a problem; without it only the date's reality is checked. Only the
/// province of the region code is checked: county codes change over the years and old IDs
/// keep theirs.
std::optional<IdcardProblem> idcard_problem(std::string_view id, std::optional<std::int64_t> today = std::nullopt);

/// What the problem is, in Chinese, for the person who typed the number ("出生日期晚于今天").
std::string_view describe(IdcardProblem problem);

/// True when idcard_problem finds none.
bool valid_idcard(std::string_view id, std::optional<std::int64_t> today = std::nullopt);

/// True for 18 characters whose check character matches and whose birth date is real, whatever
/// the region or today: the shape that masking treats as an ID number (masking errs on the
/// side of hiding).
bool idcard_checksum_valid(std::string_view id);

/// The birth date encoded in a valid 18-character ID number.
std::optional<CivilDate> idcard_birth_date(std::string_view id);

/// The check character an ID number's first 17 digits call for ('0'-'9' or 'X').
std::optional<char> idcard_check_character(std::string_view first17);

/// Why a unified social credit code is not valid, in the order the checks run.
enum class UsccProblem {
  length,           ///< not 18 characters
  characters,       ///< a character outside 0-9 and A-Y without I, O, S, V, Z
  check_character,  ///< the MOD 31 check character does not match
};

/// The first problem of a unified social credit code, none when it is valid.
std::optional<UsccProblem> uscc_problem(std::string_view code);

/// What the problem is, in Chinese.
std::string_view describe(UsccProblem problem);

/// True for an 18-character unified social credit code over the 31-character set whose
/// MOD 31 check character matches.
bool valid_uscc(std::string_view code);

/// An identifier as typed, made canonical: surrounding blanks (ASCII, U+3000 and no-break
/// spaces) dropped, full-width digits and letters made ASCII, letters upper-cased. For ID
/// numbers, credit codes and phone numbers, where "１１０１０５…ｘ " means "110105…X". Text
/// that is not valid UTF-8 comes back unchanged.
std::string normalise_identifier(std::string_view text);

/// The check character a code's first 17 characters call for.
std::optional<char> uscc_check_character(std::string_view first17);

/// Masks an ID number for logs: keeps the first 3 and last 2 characters (code points; the
/// result is valid UTF-8: "110*************2X"); 6 characters or fewer are fully masked.
std::string mask_idcard(std::string_view id);

/// Masks a phone number for logs: keeps the first 3 and last 2 characters, as mask_idcard.
std::string mask_phone(std::string_view phone);

/// True for a mainland mobile number: 11 digits starting with 1[3-9].
bool valid_mobile_phone(std::string_view phone);

bool is_real_date(int year, int month, int day);

}  // namespace onevisit::dsl
