// Case search: the tokens a case is found by, and what a typed query looks for
// (docs/storage.md, Search index).
//
// Names and numbers are encrypted at rest, so a search cannot read them. Instead every case
// has a set of normalised search tokens — prefixes of the applicant's and company's names,
// the trailing digits of ID, credit-code and phone numbers, its case number — which the store
// keeps only as keyed hashes (a blind index). A query is turned into the same tokens and
// looked up by hash; nothing is decrypted to search.
//
// Tokens are text with a kind prefix: "n:" a name prefix (2 to kNamePrefixMax characters),
// "f:" a whole name longer than that, "t:" the last 4 to kTailMax characters of a number or
// the whole number, "c:" a generated case number's sequence (no leading zeros).
//
// Thread safety: pure functions.
#pragma once

#include <onevisit/engine/runtime.hpp>
#include <onevisit/engine/workflow.hpp>

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::engine {

/// Name prefixes are indexed up to this many characters; a longer query must be a whole name.
inline constexpr std::size_t kNamePrefixMax = 6;
/// Number tails are indexed from 4 up to this many characters, and the whole number.
inline constexpr std::size_t kTailMin = 4;
inline constexpr std::size_t kTailMax = 8;

/// What a query looks for.
struct SearchTerms {
  enum class Kind { case_number, number, name };
  Kind kind = Kind::name;
  /// Tokens to look up; a case matches when it has any of them.
  std::vector<std::string> tokens;
  /// A whole case number as typed (YYYYMMDD-NNNN), matched against case ids directly.
  std::string case_id;
  /// The query for logs: a number keeps only its last 4 characters visible.
  std::string masked;
};

/// Reads a query as typed at the window: a case number (20261207-0012, or its trailing digits
/// alone), the last 4 to 8 characters of an ID or credit-code number or phone, a whole such
/// number, or (part of) a name: 2 or more characters, a name prefix up to kNamePrefixMax
/// characters or a whole name. Spaces, full-width digits and letters, lower-case x are
/// normalised. The error is a Chinese message for the clerk saying what to type instead
/// (too short, a number of a length that is neither a tail nor a whole number, characters
/// no name or number holds).
std::expected<SearchTerms, std::string> parse_search_query(std::string_view text);

/// The search tokens of a case, sorted and unique: its generated case number; for every
/// idcard, uscc and phone field, the number's tails and the whole number; for every text
/// field that holds a name (its title says 姓名 or 名称, or its id ends in `_name`; bank
/// fields excepted), the name's prefixes (or the whole name). Values erased by retention
/// give none.
std::vector<std::string> search_tokens(const Workflow& workflow, const Case& state);

/// The field's values are indexed as names (see search_tokens).
bool is_name_field(const FieldModel& field);

}  // namespace onevisit::engine
