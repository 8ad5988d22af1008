// Chinese official identifiers: the resident ID number (GB 11643-1999) and the unified
// social credit code (GB 32100-2015), plus masking for logs.
//
// All functions are pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace onevisit::dsl {

struct CivilDate {
  int year = 0, month = 0, day = 0;
  friend bool operator==(const CivilDate&, const CivilDate&) = default;
};

/// True for an 18-character resident ID number whose ISO 7064 MOD 11-2 check character
/// matches (a lowercase x is accepted) and whose birth date is a real date.
bool valid_idcard(std::string_view id);

/// The birth date encoded in a valid 18-character ID number.
std::optional<CivilDate> idcard_birth_date(std::string_view id);

/// The check character an ID number's first 17 digits call for ('0'-'9' or 'X').
std::optional<char> idcard_check_character(std::string_view first17);

/// True for an 18-character unified social credit code over the 31-character set whose
/// MOD 31 check character matches.
bool valid_uscc(std::string_view code);

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
