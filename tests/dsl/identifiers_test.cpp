#include <catch2/catch.hpp>

#include <onevisit/dsl/identifiers.hpp>

using namespace onevisit::dsl;

TEST_CASE("identifiers: resident ID numbers (GB 11643)", "[identifiers]") {
  CHECK(valid_idcard("11010519491231002X"));
  CHECK(valid_idcard("11010519491231002x"));
  CHECK(valid_idcard("440524188001010014"));
  CHECK(!valid_idcard("340524198001010013"));
  CHECK(idcard_check_character("34052419800101001") == 'X');
  CHECK(!valid_idcard("11010519490230002X"));  // no 30 February (check digit aside)
  CHECK(!valid_idcard("1101051949123100"));
  CHECK(!valid_idcard(""));
  CHECK(!valid_idcard("1101051949123100AX"));
  // Changing any one character breaks it.
  const std::string good = "11010519491231002X";
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = bad[i] == '1' ? '2' : '1';
    CHECK(!valid_idcard(bad));
  }
  const auto birth = idcard_birth_date("11010519491231002X");
  REQUIRE(birth);
  CHECK(*birth == CivilDate{1949, 12, 31});
}

TEST_CASE("identifiers: unified social credit codes (GB 32100)", "[identifiers]") {
  CHECK(valid_uscc("91350100M000100Y43"));
  CHECK(uscc_check_character("91350100M000100Y4") == '3');
  CHECK(!valid_uscc("91350100M000100Y44"));
  CHECK(!valid_uscc("91350100M0001TGQXM"));  // a known pilot-era exception fails the strict check
  CHECK(!valid_uscc("91350100I000100Y43"));  // I is not in the character set
  CHECK(!valid_uscc("9135"));
  const std::string good = "91350100M000100Y43";
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = bad[i] == '1' ? '2' : '1';
    CHECK(!valid_uscc(bad));
  }
}

TEST_CASE("identifiers: masking for logs", "[identifiers]") {
  CHECK(mask_idcard("11010519491231002X") == "110*************2X");
  CHECK(mask_phone("13812345678") == "138******78");
  CHECK(mask_phone("123") == "***");
  CHECK(valid_mobile_phone("13812345678"));
  CHECK(!valid_mobile_phone("12812345678"));
}
