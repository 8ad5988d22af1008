// District generator — see district_generator.hpp for the contract.
//
// How names are kept resolvable (the invariants the code below maintains):
// - Every top-level name carries a prefix that makes it globally unique: departments `dNN`,
//   catalog materials `mNN_…`, catalog items `iNN_…`, bundle-local declarations `bNN_…`,
//   `use` aliases `sKK_…`. Form/situation field names come from fixed vocabularies that never
//   collide with those prefixes, nor with the calendar `district` or the lifecycles.
// - A catalog item needs materials of its own department, signature e-licenses and materials
//   produced by earlier items, i.e. only materials of departments numbered ≤ its own. A
//   catalog imports exactly the lower-numbered catalogs it references, so imports are acyclic.
// - A bundle imports the catalog of every item it uses and of every catalog material its
//   local items need, plus the calendar and lifecycle files.
// - Items only `sends` fields of a small shared vocabulary; each bundle form contains every
//   field sent by any item it uses.
// - `after` only names earlier uses (so it is a DAG) and a consumer of a produced material
//   runs after its producer when both are in the bundle.
// - `when` expressions are built from typed operands (form/situation fields, decision
//   results), so each atom is bool by construction.
#include "district_generator.hpp"

#include <algorithm>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onevisit::bench {
namespace {

// ---------------------------------------------------------------------------------------------
// Deterministic randomness: splitmix64, reduced by modulo (bias is irrelevant here, platform
// independence is what matters).

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform-ish integer in [0, n); 0 when n <= 1.
  int below(int n) {
    if (n <= 1) return 0;
    return static_cast<int>(next() % static_cast<std::uint64_t>(n));
  }
  int between(int lo, int hi) { return hi <= lo ? lo : lo + below(hi - lo + 1); }
  bool chance(int percent) { return below(100) < percent; }
  template <class V>
  auto& pick(V& v) {
    return v[static_cast<std::size_t>(below(static_cast<int>(v.size())))];
  }
  template <class V>
  void shuffle(V& v) {
    for (std::size_t i = v.size(); i > 1; --i)
      std::swap(v[i - 1], v[static_cast<std::size_t>(below(static_cast<int>(i)))]);
  }

 private:
  std::uint64_t state_;
};

// An independent stream per purpose, so that e.g. bundle 12 does not change when bundle 11
// draws one more number.
std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t tag) {
  Rng r(seed ^ (tag * 0xD1B54A32D192ED03ull));
  r.next();
  return r.next();
}

// ---------------------------------------------------------------------------------------------
// Text helpers.

std::string pad(int n, int width = 2) {
  const std::string s = std::to_string(n);
  const int missing = width - static_cast<int>(s.size());
  return missing > 0 ? std::string(static_cast<std::size_t>(missing), '0') + s : s;
}

// Durations are kept in half working days so that no floating point is ever formatted.
std::string halves(int h) {
  std::string s = std::to_string(h / 2);
  if (h % 2 != 0) s += ".5";
  return s;
}

std::string workdays(int h) { return halves(h) + (h <= 2 ? " workday" : " workdays"); }

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i != 0) out += sep;
    out += parts[i];
  }
  return out;
}

// Chinese numerals for 1..999 (article numbers, batch suffixes).
std::string cn_number(int n) {
  static const char* const kDigit[] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"};
  if (n <= 0) return kDigit[0];
  std::string out;
  const int hundreds = n / 100 % 10;
  const int tens = n / 10 % 10;
  const int ones = n % 10;
  if (hundreds != 0) {
    out += kDigit[hundreds];
    out += "百";
    if (tens == 0 && ones != 0) out += "零";
  }
  if (tens != 0) {
    if (!(tens == 1 && hundreds == 0)) out += kDigit[tens];
    out += "十";
  }
  if (ones != 0) out += kDigit[ones];
  return out;
}

bool has(const char* s) { return s != nullptr && *s != '\0'; }

// ---------------------------------------------------------------------------------------------
// Vocabulary: departments (themes), actions, document types, special procedures.

enum class Aud { kPerson, kCompany, kProject };

struct Obj {
  const char* zh;
  const char* slug;
};
struct Sig {  // a department's signature e-license; the e-license type is the title
  const char* zh;
  const char* slug;
};
struct Theme {
  const char* title;
  Aud aud;
  int weight;  // relative number of items
  std::vector<Obj> objects;
  std::vector<Sig> sigs;
  std::vector<const char*> laws;
};

const std::vector<Theme>& themes() {
  static const std::vector<Theme> kThemes = {
      {"区公安分局",
       Aud::kPerson,
       14,
       {{"户籍", "hukou"},
        {"居住证", "residence_permit"},
        {"身份证", "id_card"},
        {"机动车", "vehicle"},
        {"驾驶证", "driving_license"},
        {"出入境证件", "exit_entry"},
        {"印章刻制", "seal_making"},
        {"犬只", "dog"}},
       {{"居民身份证", "resident_id"}, {"居民户口簿", "household_register"}},
       {"《中华人民共和国居民身份证法》", "《中华人民共和国户口登记条例》",
        "《中华人民共和国道路交通安全法》"}},
      {"区市场监督管理局",
       Aud::kCompany,
       16,
       {{"企业", "enterprise"},
        {"个体工商户", "sole_trader"},
        {"食品经营", "food_business"},
        {"药品零售", "drug_retail"},
        {"医疗器械经营", "medical_device"},
        {"特种设备", "special_equipment"},
        {"计量器具", "measuring_instrument"},
        {"广告发布", "advertising"}},
       {{"营业执照", "business_license"}, {"食品经营许可证", "food_license"}},
       {"《中华人民共和国市场主体登记管理条例》", "《中华人民共和国食品安全法》",
        "《中华人民共和国药品管理法》"}},
      {"区税务局",
       Aud::kCompany,
       9,
       {{"发票", "invoice"},
        {"税务登记", "tax_registration"},
        {"纳税申报", "tax_return"},
        {"税收优惠", "tax_incentive"},
        {"契税", "deed_tax"},
        {"个人所得税", "income_tax"},
        {"社会保险费", "social_insurance_fee"}},
       {{"税收完税证明", "tax_clearance"}},
       {"《中华人民共和国税收征收管理法》", "《中华人民共和国发票管理办法》"}},
      {"区人力资源和社会保障局",
       Aud::kPerson,
       14,
       {{"社会保障卡", "social_security_card"},
        {"就业登记", "employment_reg"},
        {"失业保险", "unemployment_insurance"},
        {"养老保险", "pension"},
        {"职业技能", "vocational_skill"},
        {"劳务派遣", "labor_dispatch"},
        {"创业担保贷款", "startup_loan"}},
       {{"社会保障卡", "ss_card"}, {"职业资格证书", "qualification_cert"}},
       {"《中华人民共和国社会保险法》", "《中华人民共和国就业促进法》",
        "《中华人民共和国劳动合同法》"}},
      {"区民政局",
       Aud::kPerson,
       10,
       {{"婚姻", "marriage"},
        {"社会组织", "social_organisation"},
        {"养老机构", "elderly_care"},
        {"最低生活保障", "minimum_living"},
        {"特困人员", "extreme_poverty"},
        {"殡葬", "funeral"},
        {"地名", "place_name"},
        {"慈善组织", "charity"}},
       {{"结婚证", "marriage_cert"}},
       {"《婚姻登记条例》", "《社会救助暂行办法》", "《社会团体登记管理条例》"}},
      {"区卫生健康局",
       Aud::kPerson,
       11,
       {{"医疗机构", "medical_institution"},
        {"医师执业", "physician"},
        {"护士执业", "nurse"},
        {"出生医学证明", "birth_certificate"},
        {"公共场所卫生", "public_hygiene"},
        {"母婴保健", "maternal_care"},
        {"放射诊疗", "radiology"},
        {"生育登记", "birth_registration"}},
       {{"出生医学证明", "birth_medical_cert"}},
       {"《医疗机构管理条例》", "《中华人民共和国母婴保健法》", "《公共场所卫生管理条例》"}},
      {"区医疗保障局",
       Aud::kPerson,
       7,
       {{"医保参保", "medical_insurance"},
        {"医疗费用", "medical_expense"},
        {"异地就医", "offsite_treatment"},
        {"门诊慢特病", "chronic_disease"},
        {"医保定点", "designated_provider"},
        {"生育津贴", "maternity_allowance"}},
       {{"医保电子凭证", "medical_insurance_voucher"}},
       {"《医疗保障基金使用监督管理条例》", "《中华人民共和国社会保险法》"}},
      {"区住房和城乡建设局",
       Aud::kProject,
       13,
       {{"建筑工程施工", "construction"},
        {"商品房预售", "presale"},
        {"建筑业企业资质", "contractor_qualification"},
        {"房屋租赁", "house_lease"},
        {"物业服务", "property_service"},
        {"燃气经营", "gas_business"},
        {"建设工程竣工", "completion"},
        {"住房保障", "housing_security"}},
       {{"建筑工程施工许可证", "construction_permit"}},
       {"《中华人民共和国建筑法》", "《城市房地产开发经营管理条例》", "《城镇燃气管理条例》"}},
      {"区自然资源和规划局",
       Aud::kProject,
       11,
       {{"建设用地", "construction_land"},
        {"建设工程规划", "planning"},
        {"不动产", "real_estate"},
        {"测绘", "surveying"},
        {"土地复垦", "land_reclamation"},
        {"临时用地", "temporary_land"}},
       {{"不动产权证书", "property_cert"}, {"建设用地规划许可证", "land_planning_permit"}},
       {"《中华人民共和国土地管理法》", "《中华人民共和国城乡规划法》", "《不动产登记暂行条例》"}},
      {"区生态环境局",
       Aud::kProject,
       8,
       {{"环境影响评价", "eia"},
        {"排污许可", "discharge"},
        {"危险废物", "hazardous_waste"},
        {"辐射安全", "radiation_safety"},
        {"竣工环保验收", "env_acceptance"},
        {"噪声排放", "noise"}},
       {{"排污许可证", "discharge_permit"}},
       {"《中华人民共和国环境影响评价法》", "《排污许可管理条例》",
        "《中华人民共和国固体废物污染环境防治法》"}},
      {"区交通运输局",
       Aud::kCompany,
       9,
       {{"道路运输经营", "road_transport"},
        {"出租汽车", "taxi"},
        {"营运车辆", "commercial_vehicle"},
        {"道路货物运输", "freight"},
        {"公路占用", "highway_use"},
        {"超限运输", "oversize_transport"},
        {"驾驶员培训", "driver_training"}},
       {{"道路运输证", "road_transport_cert"}},
       {"《中华人民共和国道路运输条例》", "《公路安全保护条例》"}},
      {"区教育局",
       Aud::kPerson,
       8,
       {{"民办学校", "private_school"},
        {"校外培训机构", "tutoring"},
        {"教师资格", "teacher_qualification"},
        {"学籍", "student_status"},
        {"义务教育入学", "school_enrolment"},
        {"学生资助", "student_aid"}},
       {{"教师资格证书", "teacher_cert"}},
       {"《中华人民共和国民办教育促进法》", "《中华人民共和国教师法》",
        "《中华人民共和国义务教育法》"}},
      {"区文化广电旅游体育局",
       Aud::kCompany,
       9,
       {{"娱乐场所", "entertainment_venue"},
        {"互联网上网服务", "internet_cafe"},
        {"营业性演出", "performance"},
        {"旅行社", "travel_agency"},
        {"出版物经营", "publication"},
        {"高危险性体育项目", "high_risk_sport"},
        {"艺术品经营", "art_business"}},
       {{"娱乐经营许可证", "entertainment_license"}},
       {"《娱乐场所管理条例》", "《营业性演出管理条例》", "《旅行社条例》"}},
      {"区应急管理局",
       Aud::kCompany,
       8,
       {{"危险化学品经营", "hazchem"},
        {"安全生产", "work_safety"},
        {"烟花爆竹经营", "fireworks"},
        {"应急预案", "emergency_plan"},
        {"安全评价", "safety_assessment"},
        {"消防安全", "fire_safety"}},
       {{"危险化学品经营许可证", "hazchem_license"}},
       {"《中华人民共和国安全生产法》", "《危险化学品安全管理条例》", "《中华人民共和国消防法》"}},
      {"区退役军人事务局",
       Aud::kPerson,
       6,
       {{"退役士兵安置", "veteran_placement"},
        {"优抚对象", "special_care"},
        {"光荣牌", "honour_plaque"},
        {"退役军人创业", "veteran_startup"},
        {"军人抚恤", "military_pension"},
        {"烈士褒扬", "martyr"}},
       {{"退役军人优待证", "veteran_card"}},
       {"《中华人民共和国退役军人保障法》", "《军人抚恤优待条例》"}},
      {"区农业农村局",
       Aud::kCompany,
       10,
       {{"农药经营", "pesticide"},
        {"兽药经营", "veterinary_drug"},
        {"种子生产经营", "seed"},
        {"农村宅基地", "homestead"},
        {"动物防疫", "animal_epidemic"},
        {"农业机械", "farm_machinery"},
        {"渔业捕捞", "fishing"}},
       {{"农药经营许可证", "pesticide_license"}},
       {"《农药管理条例》", "《中华人民共和国动物防疫法》", "《中华人民共和国种子法》"}},
      {"区水利局",
       Aud::kProject,
       6,
       {{"取水", "water_intake"},
        {"河道管理", "river_works"},
        {"水土保持", "soil_conservation"},
        {"洪水影响评价", "flood_assessment"},
        {"排水", "drainage"},
        {"节约用水", "water_saving"}},
       {{"取水许可证", "water_permit"}},
       {"《中华人民共和国水法》", "《取水许可和水资源费征收管理条例》",
        "《城镇排水与污水处理条例》"}},
      {"区商务局",
       Aud::kCompany,
       6,
       {{"对外贸易经营", "foreign_trade"},
        {"单用途预付卡", "prepaid_card"},
        {"再生资源回收", "recycling"},
        {"二手车交易", "used_car"},
        {"成品油零售", "fuel_retail"},
        {"拍卖", "auction"}},
       {{"对外贸易经营者备案登记表", "trade_filing"}},
       {"《中华人民共和国对外贸易法》", "《再生资源回收管理办法》"}},
      {"区发展和改革局",
       Aud::kProject,
       7,
       {{"企业投资项目", "enterprise_investment"},
        {"政府投资项目", "government_investment"},
        {"节能审查", "energy_review"},
        {"价格", "pricing"},
        {"粮食收购", "grain_purchase"},
        {"招标方案", "tender"}},
       {{"企业投资项目备案证明", "project_filing"}},
       {"《企业投资项目核准和备案管理条例》", "《政府投资条例》",
        "《固定资产投资项目节能审查办法》"}},
      {"区财政局",
       Aud::kCompany,
       5,
       {{"政府采购", "procurement"},
        {"代理记账", "bookkeeping"},
        {"惠企资金", "enterprise_fund"},
        {"非税收入", "nontax_revenue"},
        {"财政补助", "subsidy_grant"}},
       {{"代理记账许可证书", "bookkeeping_license"}},
       {"《中华人民共和国政府采购法》", "《代理记账管理办法》"}},
      {"区司法局",
       Aud::kPerson,
       7,
       {{"法律援助", "legal_aid"},
        {"公证", "notary"},
        {"人民调解", "mediation"},
        {"律师执业", "lawyer"},
        {"司法鉴定", "forensic"},
        {"基层法律服务", "legal_service"}},
       {{"公证书", "notarial_cert"}},
       {"《中华人民共和国法律援助法》", "《中华人民共和国公证法》",
        "《中华人民共和国人民调解法》"}},
      {"区综合行政执法局",
       Aud::kCompany,
       8,
       {{"户外广告设施", "outdoor_ad"},
        {"城市道路挖掘", "road_excavation"},
        {"城市绿地占用", "green_space"},
        {"建筑垃圾处置", "construction_waste"},
        {"临时占道", "street_occupation"},
        {"门头招牌", "shop_sign"}},
       {{"城市建筑垃圾处置核准文件", "waste_approval"}},
       {"《城市市容和环境卫生管理条例》", "《城市道路管理条例》", "《城市绿化条例》"}},
      {"区统计局",
       Aud::kCompany,
       3,
       {{"统计调查项目", "survey_project"},
        {"统计登记", "statistical_reg"},
        {"统计数据", "statistical_data"},
        {"名录库", "business_directory"}},
       {{"统计登记证", "stat_cert"}},
       {"《中华人民共和国统计法》"}},
      {"区科学技术局",
       Aud::kCompany,
       5,
       {{"高新技术企业", "high_tech"},
        {"科技型中小企业", "tech_sme"},
        {"技术合同", "tech_contract"},
        {"科技计划项目", "research_project"},
        {"研发费用", "rd_expense"},
        {"众创空间", "maker_space"}},
       {{"高新技术企业证书", "high_tech_cert"}},
       {"《中华人民共和国科学技术进步法》", "《中华人民共和国促进科技成果转化法》"}},
      {"区经济和信息化局",
       Aud::kCompany,
       6,
       {{"技术改造", "tech_upgrade"},
        {"电力需求", "power_demand"},
        {"专精特新", "specialised_sme"},
        {"工业项目", "industrial_project"},
        {"无线电", "radio"},
        {"软件企业", "software"}},
       {{"专精特新中小企业证书", "specialised_cert"}},
       {"《中华人民共和国中小企业促进法》", "《中华人民共和国电力法》"}},
      {"区档案局",
       Aud::kPerson,
       3,
       {{"档案查阅", "archive_access"},
        {"档案寄存", "archive_deposit"},
        {"婚姻档案", "marriage_archive"},
        {"企业档案", "enterprise_archive"},
        {"房产档案", "property_archive"},
        {"档案鉴定", "archive_appraisal"}},
       {{"档案查询结果证明", "archive_proof"}},
       {"《中华人民共和国档案法》"}},
      {"区民族宗教事务局",
       Aud::kPerson,
       3,
       {{"宗教活动场所", "religious_site"},
        {"宗教教职人员", "clergy"},
        {"清真食品", "halal_food"},
        {"民族成分", "ethnicity"},
        {"宗教团体", "religious_group"}},
       {{"宗教活动场所登记证", "religious_site_cert"}},
       {"《宗教事务条例》"}},
      {"区林业局",
       Aud::kProject,
       4,
       {{"林木采伐", "logging"},
        {"林地使用", "forest_land"},
        {"野生动物", "wildlife"},
        {"木材运输", "timber_transport"},
        {"林草种子", "forest_seed"},
        {"古树名木", "ancient_tree"}},
       {{"林木采伐许可证", "logging_license"}},
       {"《中华人民共和国森林法》", "《中华人民共和国野生动物保护法》"}},
      {"区数据资源管理局",
       Aud::kCompany,
       3,
       {{"公共数据", "public_data"},
        {"数据开放", "open_data"},
        {"政务云资源", "gov_cloud"},
        {"电子印章", "e_seal"},
        {"信息系统", "info_system"}},
       {{"电子印章数字证书", "eseal_cert"}},
       {"《中华人民共和国数据安全法》", "《中华人民共和国个人信息保护法》"}},
  };
  return kThemes;
}

struct Action {
  const char* zh;
  const char* slug;
  const char* kind;    // item kind
  const char* result;  // title suffix of the document it issues, or nullptr
  int immediate_pct;   // chance that an item of this action is 即办
};

const std::vector<Action>& actions() {
  static const std::vector<Action> kActions = {
      {"设立登记", "establish", "licensing", "登记证", 15},
      {"变更登记", "change", "licensing", nullptr, 55},
      {"注销登记", "deregister", "licensing", nullptr, 60},
      {"许可", "permit", "licensing", "许可证", 8},
      {"许可延续", "renewal", "licensing", nullptr, 35},
      {"审批", "approval", "licensing", "批准文件", 5},
      {"核准", "authorization", "licensing", "核准文件", 10},
      {"备案", "filing", "other", "备案回执", 60},
      {"确认", "confirmation", "confirmation", "确认书", 40},
      {"认定", "recognition", "confirmation", "认定证书", 10},
      {"补贴申领", "subsidy", "benefit", nullptr, 30},
      {"待遇核定", "entitlement", "benefit", "待遇核定表", 20},
      {"费用缴纳", "fee", "payment", nullptr, 85},
      {"证明开具", "certificate", "service", "证明", 80},
      {"信息查询", "inquiry", "service", nullptr, 90},
      {"证照补领", "reissue", "service", nullptr, 60},
      {"年度报告", "annual_report", "other", nullptr, 70},
      {"监督检查", "inspection", "other", nullptr, 5},
      {"奖励", "award", "benefit", nullptr, 10},
      {"验收", "acceptance", "confirmation", "验收意见书", 5},
  };
  return kActions;
}

struct Doc {
  const char* zh;
  const char* slug;
  const char* formats;
  int secondary_pct;
  int original_pct;
};

const std::vector<Doc>& docs() {
  static const std::vector<Doc> kDocs = {
      {"申请书", "application_letter", "pdf", 0, 5},
      {"承诺书", "pledge", "pdf", 60, 10},
      {"情况说明", "statement", "pdf, ofd", 50, 0},
      {"证明材料", "proof", "pdf, jpg", 20, 5},
      {"场所平面图", "floor_plan", "pdf, jpg", 25, 0},
      {"租赁合同", "lease_contract", "pdf", 15, 40},
      {"可行性研究报告", "feasibility_report", "pdf", 5, 0},
      {"检测报告", "test_report", "pdf", 10, 10},
      {"管理制度", "rules", "pdf, ofd", 55, 0},
      {"人员名单", "staff_list", "pdf", 40, 0},
      {"设备清单", "equipment_list", "pdf", 40, 0},
      {"现场照片", "site_photo", "jpg, png", 45, 0},
      {"授权委托书", "power_of_attorney", "pdf, jpg", 10, 50},
      {"设计方案", "design_plan", "pdf, ofd", 5, 0},
      {"评估报告", "assessment_report", "pdf", 10, 0},
      {"缴费凭证", "payment_receipt", "pdf, jpg, png", 30, 0},
      {"登记表", "register_form", "pdf", 10, 0},
      {"身份证明", "identity_proof", "jpg, png, pdf", 10, 30},
      {"章程", "charter", "pdf", 10, 20},
      {"资质证书", "qualification", "pdf, ofd", 20, 35},
  };
  return kDocs;
}

struct SpecialDef {
  const char* slug;
  const char* zh;
  int lo;
  int hi;  // max length range in working days
};

const std::vector<SpecialDef>& specials() {
  static const std::vector<SpecialDef> kSpecials = {
      {"public_notice", "公示", 5, 10},
      {"expert_review", "专家评审", 10, 30},
      {"site_inspection", "现场核查", 3, 10},
      {"hearing", "听证", 20, 30},
      {"technical_review", "技术审查", 5, 20},
      {"testing", "检验检测", 10, 30},
      {"survey", "现场勘测", 3, 7},
      {"consultation", "征求意见", 5, 15},
      {"appraisal", "鉴定", 10, 60},
  };
  return kSpecials;
}

// ---------------------------------------------------------------------------------------------
// Form and situation vocabularies. Field types drive the expression generator.

enum class T {
  kText,
  kInt,
  kDecimal,
  kMoney,
  kBool,
  kDate,
  kEnum,
  kIdCard,
  kUscc,
  kPhone,
  kListText,
  kListEnum,
  kLabel,      // a decision result of type text (internal only)
  kLabelList,  // a `collect` decision result (internal only)
};

struct Member {
  const char* id;
  const char* zh;
};

struct FieldDef {
  const char* id;
  const char* zh;
  T type;
  int lo = 0;  // typical range of values (numbers), ages (idcard) or years (dates)
  int hi = 0;
  const char* opts = nullptr;  // fixed field options, e.g. "min 0 max 20"
  const char* def = nullptr;   // default expression
  const char* hint = nullptr;  // substring for contains() on text fields
  std::vector<Member> members = {};
};

FieldDef enum_field(const char* id, const char* zh, const char* def, std::vector<Member> members) {
  return {id, zh, T::kEnum, 0, 0, nullptr, def, nullptr, std::move(members)};
}

FieldDef list_enum_field(const char* id, const char* zh, const char* def,
                         std::vector<Member> members) {
  return {id, zh, T::kListEnum, 0, 0, nullptr, def, nullptr, std::move(members)};
}

// Fields items may send. Index order is the order they appear in forms.
const std::vector<FieldDef>& form_fields() {
  static const std::vector<FieldDef> kFields = {
      // --- sendable core (indices 0..11) ---
      {"applicant_name", "申请人姓名", T::kText, 0, 0, "pattern \"^.{2,40}$\""},
      {"applicant_id", "申请人身份证号码", T::kIdCard, 16, 70},
      {"contact_phone", "联系电话", T::kPhone},
      {"address", "联系地址", T::kText, 0, 0, nullptr, nullptr, "街道"},
      {"company_name", "企业名称", T::kText, 0, 0, nullptr, nullptr, "有限公司"},
      {"uscc", "统一社会信用代码", T::kUscc},
      {"legal_rep", "法定代表人姓名", T::kText},
      {"reg_capital", "注册资本（万元）", T::kMoney, 10, 5000, "min 0"},
      {"employees", "从业人员数", T::kInt, 5, 300, "min 0 max 100000", "0"},
      {"area_m2", "经营场所面积（平方米）", T::kDecimal, 50, 2000, "min 0"},
      {"business_scope", "经营范围", T::kText, 0, 0, nullptr, nullptr, "食品"},
      {"investment", "项目总投资（万元）", T::kMoney, 500, 50000, "min 0"},
      // --- persons ---
      {"household_size", "家庭人口数", T::kInt, 1, 6, "min 1 max 20", "1"},
      {"monthly_income", "家庭月收入（元）", T::kMoney, 1000, 20000, "min 0"},
      {"is_married", "是否已婚", T::kBool, 0, 0, nullptr, "false"},
      {"spouse_id", "配偶身份证号码", T::kIdCard, 20, 60},
      enum_field(
          "hukou_type", "户籍类型", "\"local\"",
          {{"local", "本区户籍"}, {"city", "本市外区户籍"}, {"other_province", "外省市户籍"}}),
      {"baby_name", "新生儿姓名", T::kText},
      {"baby_birth", "新生儿出生日期", T::kDate, 2024, 2026},
      {"child_count", "子女数量", T::kInt, 0, 3, "min 0 max 10", "0"},
      {"child_names", "子女姓名", T::kListText},
      enum_field("education", "最高学历", nullptr,
                 {{"junior", "初中及以下"},
                  {"senior", "高中"},
                  {"bachelor", "本科"},
                  {"master", "硕士研究生"},
                  {"doctor", "博士研究生"}}),
      {"retire_date", "退休日期", T::kDate, 2025, 2027},
      {"insured_years", "累计缴费年限", T::kInt, 5, 40, "min 0 max 60"},
      enum_field("disability_level", "残疾等级", nullptr,
                 {{"grade1", "一级"}, {"grade2", "二级"}, {"grade3", "三级"}, {"grade4", "四级"}}),
      enum_field("veteran_type", "退役类别", nullptr,
                 {{"conscript", "义务兵"}, {"sergeant", "士官"}, {"officer", "军官"}}),
      {"bank_account", "银行账号", T::kText, 0, 0, "pattern \"^[0-9]{12,19}$\""},
      {"postal_code", "邮政编码", T::kText, 0, 0, "pattern \"^[0-9]{6}$\""},
      {"email", "电子邮箱", T::kText, 0, 0, "pattern \"^[^@ ]+@[^@ ]+$\"", nullptr, "@"},
      {"property_area", "房屋建筑面积（平方米）", T::kDecimal, 40, 300, "min 0"},
      {"property_cert_no", "不动产权证号", T::kText, 0, 0, nullptr, nullptr, "不动产权"},
      {"house_price", "房屋成交价格（万元）", T::kMoney, 50, 1000, "min 0"},
      {"vehicle_plate", "号牌号码", T::kText, 0, 0, nullptr, nullptr, "浙B"},
      {"vehicle_count", "名下车辆数", T::kInt, 0, 3, "min 0", "0"},
      {"death_date", "死亡日期", T::kDate, 2024, 2026},
      {"medical_cost", "医疗费用总额（元）", T::kMoney, 5000, 200000, "min 0"},
      enum_field("delivery_mode", "出件方式", "\"electronic\"",
                 {{"window", "窗口领取"}, {"mail", "邮寄送达"}, {"electronic", "电子证照"}}),
      {"agent_id", "代理人身份证号码", T::kIdCard, 18, 70},
      {"agent_phone", "代理人联系电话", T::kPhone},
      // --- companies ---
      {"annual_revenue", "上年度营业收入（万元）", T::kMoney, 100, 10000, "min 0"},
      enum_field("industry", "所属行业", nullptr,
                 {{"catering", "餐饮"},
                  {"retail", "零售"},
                  {"manufacturing", "制造业"},
                  {"services", "服务业"},
                  {"construction", "建筑业"},
                  {"technology", "信息技术"}}),
      {"is_chain", "是否连锁经营", T::kBool, 0, 0, nullptr, "false"},
      {"sells_alcohol", "是否销售酒类", T::kBool, 0, 0, nullptr, "false"},
      {"sells_food", "是否销售食品", T::kBool, 0, 0, nullptr, "true"},
      {"seat_count", "餐位数", T::kInt, 10, 300, "min 0", "0"},
      {"opening_date", "拟开业日期", T::kDate, 2025, 2027},
      {"shareholder_count", "股东人数", T::kInt, 1, 50, "min 1 max 200", "1"},
      {"has_outdoor_ad", "是否设置户外招牌", T::kBool, 0, 0, nullptr, "false"},
      {"needs_invoice", "是否申领发票", T::kBool, 0, 0, nullptr, "true"},
      {"needs_seal", "是否刻制印章", T::kBool, 0, 0, nullptr, "true"},
      {"premises_owned", "经营场所是否自有", T::kBool},
      list_enum_field("seal_types", "刻制印章种类", "[\"official\", \"finance\"]",
                      {{"official", "公章"},
                       {"finance", "财务专用章"},
                       {"invoice", "发票专用章"},
                       {"contract", "合同专用章"}}),
      {"bank_name", "开户银行", T::kText, 0, 0, nullptr, nullptr, "银行"},
      {"staff_certified", "从业人员是否均持健康证明", T::kBool, 0, 0, nullptr, "true"},
      // --- projects ---
      {"project_name", "项目名称", T::kText, 0, 0, nullptr, nullptr, "项目"},
      {"land_area", "用地面积（平方米）", T::kDecimal, 1000, 100000, "min 0"},
      {"building_area", "总建筑面积（平方米）", T::kDecimal, 500, 200000, "min 0"},
      {"building_height", "建筑高度（米）", T::kDecimal, 10, 150, "min 0 max 500"},
      {"floors", "地上层数", T::kInt, 1, 60, "min 1 max 120", "1"},
      {"start_work_date", "计划开工日期", T::kDate, 2025, 2027},
      {"has_fire_facility", "是否设置自动消防设施", T::kBool, 0, 0, nullptr, "false"},
      {"water_intake", "日取水量（立方米）", T::kDecimal, 10, 5000, "min 0"},
      enum_field("project_type", "项目类型", nullptr,
                 {{"industrial", "工业"},
                  {"commercial", "商业"},
                  {"residential", "住宅"},
                  {"public_facility", "公共设施"}}),
      {"hazardous_chemicals", "是否涉及危险化学品", T::kBool, 0, 0, nullptr, "false"},
      {"green_ratio", "绿地率（%）", T::kDecimal, 10, 40, "min 0 max 100"},
  };
  return kFields;
}

constexpr int kAlwaysInForm = 3;  // applicant_name, applicant_id, contact_phone

const std::vector<FieldDef>& situation_fields() {
  static const std::vector<FieldDef> kFields = {
      {"first_time", "是否首次申请", T::kBool, 0, 0, nullptr, "true"},
      {"has_agent", "是否委托代理人办理", T::kBool, 0, 0, nullptr, "false"},
      enum_field("applicant_kind", "申请人类型", "\"person\"",
                 {{"person", "自然人"}, {"company", "企业"}, {"social_org", "社会组织"}}),
      {"is_renewal", "是否为延续申请", T::kBool, 0, 0, nullptr, "false"},
      {"in_district", "是否在本区范围内", T::kBool, 0, 0, nullptr, "true"},
      enum_field("scale", "规模", nullptr,
                 {{"small", "小型"}, {"medium", "中型"}, {"large", "大型"}}),
      {"foreign_invested", "是否外商投资", T::kBool, 0, 0, nullptr, "false"},
      {"dependents", "共同生活家庭成员数", T::kInt, 0, 6, "min 0 max 20"},
      {"income_below_line", "收入是否低于最低生活保障标准", T::kBool},
      {"has_property", "是否拥有本区住房", T::kBool},
      {"online_only", "是否全程网办", T::kBool, 0, 0, nullptr, "true"},
      {"cross_province", "是否跨省通办", T::kBool, 0, 0, nullptr, "false"},
      {"urgent", "是否申请加急", T::kBool, 0, 0, nullptr, "false"},
      {"is_local_hukou", "是否本区户籍", T::kBool},
      {"claim_count", "本年度已申领次数", T::kInt, 0, 5, "min 0", "0"},
  };
  return kFields;
}

int form_index(std::string_view id) {
  const auto& f = form_fields();
  for (std::size_t i = 0; i < f.size(); ++i)
    if (id == f[i].id) return static_cast<int>(i);
  return -1;
}

int situation_index(std::string_view id) {
  const auto& f = situation_fields();
  for (std::size_t i = 0; i < f.size(); ++i)
    if (id == f[i].id) return static_cast<int>(i);
  return -1;
}

std::vector<int> indices(const std::vector<const char*>& names, int (*lookup)(std::string_view)) {
  std::vector<int> out;
  for (const char* n : names) out.push_back(lookup(n));
  return out;
}

// Fields items send, by the audience of their department. Every bundle form includes all
// fields its items send, so this shared vocabulary is kept small.
const std::vector<int>& send_pool(Aud aud) {
  static const std::vector<int> kPerson =
      indices({"applicant_name", "applicant_id", "contact_phone", "address"}, form_index);
  static const std::vector<int> kCompany =
      indices({"applicant_name", "contact_phone", "company_name", "uscc", "legal_rep",
               "reg_capital", "employees", "area_m2", "business_scope"},
              form_index);
  static const std::vector<int> kProject =
      indices({"applicant_name", "contact_phone", "address", "company_name", "uscc", "investment"},
              form_index);
  return aud == Aud::kPerson ? kPerson : aud == Aud::kCompany ? kCompany : kProject;
}

const std::vector<int>& extra_pool(Aud aud) {
  static const std::vector<int> kPerson = indices(
      {"household_size", "monthly_income", "is_married",       "spouse_id",        "hukou_type",
       "baby_name",      "baby_birth",     "child_count",      "child_names",      "education",
       "retire_date",    "insured_years",  "disability_level", "veteran_type",     "bank_account",
       "postal_code",    "email",          "property_area",    "property_cert_no", "house_price",
       "vehicle_plate",  "vehicle_count",  "death_date",       "medical_cost",     "delivery_mode",
       "agent_id",       "agent_phone"},
      form_index);
  static const std::vector<int> kCompany = indices(
      {"employees",         "area_m2",        "business_scope",  "annual_revenue", "industry",
       "is_chain",          "sells_alcohol",  "sells_food",      "seat_count",     "opening_date",
       "shareholder_count", "has_outdoor_ad", "needs_invoice",   "needs_seal",     "seal_types",
       "premises_owned",    "bank_name",      "staff_certified", "delivery_mode",  "email",
       "postal_code",       "agent_id",       "agent_phone"},
      form_index);
  static const std::vector<int> kProject = indices(
      {"project_name", "investment", "land_area", "building_area", "building_height", "floors",
       "start_work_date", "has_fire_facility", "water_intake", "project_type",
       "hazardous_chemicals", "green_ratio", "delivery_mode", "email", "agent_id", "employees"},
      form_index);
  return aud == Aud::kPerson ? kPerson : aud == Aud::kCompany ? kCompany : kProject;
}

const std::vector<int>& situation_pool(Aud aud) {
  static const std::vector<int> kPerson = indices(
      {"first_time", "has_agent", "is_renewal", "dependents", "income_below_line", "has_property",
       "online_only", "cross_province", "is_local_hukou", "claim_count", "urgent"},
      situation_index);
  static const std::vector<int> kCompany =
      indices({"first_time", "has_agent", "applicant_kind", "is_renewal", "in_district", "scale",
               "foreign_invested", "online_only", "urgent", "claim_count"},
              situation_index);
  static const std::vector<int> kProject =
      indices({"first_time", "in_district", "scale", "foreign_invested", "urgent", "has_agent",
               "online_only"},
              situation_index);
  return aud == Aud::kPerson ? kPerson : aud == Aud::kCompany ? kCompany : kProject;
}

// ---------------------------------------------------------------------------------------------
// Bundles: real "one thing" services, with the departments (1-based theme numbers) they draw
// on, and optionally a bundle-local organisation (index into local_specs()).

struct LocalSpec {
  const char* dept_zh;
  const char* slug;
  const char* kind;  // government | organisation
  const char* item1_zh;
  const char* item1_slug;
  const char* item2_zh;
  const char* item2_slug;
  const char* form_zh;  // material the applicant supplies
  const char* form_slug;
  const char* result_zh;  // material item 1 issues for item 2
  const char* result_slug;
};

const std::vector<LocalSpec>& local_specs() {
  static const std::vector<LocalSpec> kSpecs = {
      {"国网区供电公司", "power", "organisation", "低压用电报装", "power_connect", "电能表装表接电",
       "meter_install", "用电报装申请表", "power_form", "供电方案答复单", "power_plan"},
      {"区自来水有限公司", "water", "organisation", "用水报装", "water_connect", "水表安装通水",
       "water_meter", "用水报装申请表", "water_form", "供水方案", "water_plan"},
      {"区燃气有限公司", "gas", "organisation", "燃气报装", "gas_connect", "燃气表安装通气",
       "gas_meter", "燃气报装申请表", "gas_form", "供气方案", "gas_plan"},
      {"中国电信区分公司", "telecom", "organisation", "宽带报装", "broadband", "光纤入户施工",
       "fiber_install", "宽带业务登记表", "broadband_form", "装机工单", "install_order"},
      {"区住房公积金管理中心", "housing_fund", "government", "住房公积金提取", "fund_withdraw",
       "公积金账户转移", "fund_transfer", "公积金提取申请表", "withdraw_form", "提取审批单",
       "withdraw_approval"},
      {"中国工商银行区支行", "bank", "organisation", "企业银行开户", "account_open",
       "网银及回单柜开通", "ebank", "开户申请书", "account_form", "开户许可信息", "account_info"},
      {"区不动产登记中心", "realty_center", "government", "不动产转移登记", "transfer_reg",
       "水电气网联动过户", "utility_transfer", "不动产登记申请书", "realty_form", "不动产登记证明",
       "realty_proof"},
      {"街道便民服务中心", "street_center", "government", "居住证明出具", "residence_proof",
       "社区走访核实", "community_check", "居住情况登记表", "residence_form", "居住证明",
       "residence_doc"},
      {"区残疾人联合会", "disabled_fed", "organisation", "残疾人证办理", "disability_card",
       "残疾人两项补贴申领", "disability_subsidy", "残疾人证申请表", "disability_form",
       "残疾评定结论", "disability_assessment"},
      {"区红十字会", "red_cross", "organisation", "遗体器官捐献登记", "donation_reg", "捐献纪念",
       "donation_memorial", "捐献登记表", "donation_form", "捐献登记回执", "donation_receipt"},
  };
  return kSpecs;
}

struct BundleDef {
  const char* zh;
  const char* slug;
  Aud aud;
  std::vector<int> depts;  // 1-based theme numbers, most relevant first
  int local;               // index into local_specs(), or -1
};

const std::vector<BundleDef>& bundle_defs() {
  constexpr Aud P = Aud::kPerson;
  constexpr Aud C = Aud::kCompany;
  constexpr Aud R = Aud::kProject;
  static const std::vector<BundleDef> kDefs = {
      {"企业开办一件事", "enterprise_startup", C, {2, 3, 1, 4, 7, 29}, 5},
      {"新生儿出生一件事", "newborn", P, {6, 1, 7, 4, 5}, -1},
      {"退休一件事", "retirement", P, {4, 7, 26, 1}, 4},
      {"义务教育入学一件事", "school_entry", P, {12, 1, 9, 6}, 7},
      {"个人身后一件事", "after_death", P, {6, 1, 5, 4, 7, 15, 9, 21}, 9},
      {"企业信息变更一件事", "enterprise_change", C, {2, 3, 4, 7, 20}, -1},
      {"开办餐饮店一件事", "restaurant_opening", C, {2, 22, 14, 10, 3, 6}, -1},
      {"开办便利店一件事", "convenience_store", C, {2, 3, 22, 18}, -1},
      {"开办药店一件事", "pharmacy_opening", C, {2, 7, 3, 22}, -1},
      {"开办健身房一件事", "gym_opening", C, {2, 13, 14, 22, 3}, -1},
      {"开办美容美发店一件事", "salon_opening", C, {2, 6, 22, 3}, -1},
      {"开办民宿一件事", "homestay_opening", C, {2, 1, 14, 6, 13, 16}, -1},
      {"开办书店一件事", "bookstore_opening", C, {2, 13, 3}, -1},
      {"开办酒吧一件事", "bar_opening", C, {2, 13, 14, 1, 22}, -1},
      {"开办宾馆一件事", "hotel_opening", C, {2, 1, 14, 6, 22, 3}, -1},
      {"开办超市一件事", "supermarket_opening", C, {2, 3, 22, 14, 18}, -1},
      {"开办民办幼儿园一件事", "kindergarten_opening", C, {12, 5, 6, 14, 2}, -1},
      {"开办校外培训机构一件事", "tutoring_opening", C, {12, 5, 2, 14, 3}, -1},
      {"开办诊所一件事", "clinic_opening", C, {6, 2, 7, 10, 3}, -1},
      {"开办养老机构一件事", "elderly_home_opening", C, {5, 2, 6, 14, 7}, -1},
      {"开办歌舞娱乐场所一件事", "ktv_opening", C, {13, 2, 14, 1, 22}, -1},
      {"开办网吧一件事", "internet_cafe_opening", C, {13, 2, 14, 1}, -1},
      {"开办汽车维修店一件事", "auto_repair_opening", C, {11, 2, 10, 22, 3}, -1},
      {"开办加油站一件事", "gas_station_opening", C, {18, 14, 2, 10, 9}, -1},
      {"开办运输企业一件事", "transport_company", C, {2, 11, 3, 4, 1}, -1},
      {"企业注销一件事", "enterprise_closure", C, {2, 3, 4, 7, 1, 20}, 5},
      {"企业迁移一件事", "enterprise_migration", C, {2, 3, 4, 7}, -1},
      {"个体工商户开办一件事", "sole_trader_startup", C, {2, 3, 1}, -1},
      {"二手房转移登记及水电气网联动过户一件事", "resale_house_transfer", P, {9, 3, 8, 26}, 6},
      {"新建商品房交付一件事", "new_house_delivery", P, {8, 9, 3}, 0},
      {"工业项目审批一件事", "industrial_project", R, {19, 9, 8, 10, 17, 14, 25}, -1},
      {"水电气网联合报装一件事", "utility_connection", R, {8, 22, 9, 11}, 0},
      {"残疾人服务一件事", "disability_services", P, {5, 4, 7, 6}, 8},
      {"退役军人服务一件事", "veteran_services", P, {15, 4, 1, 7, 5}, -1},
      {"灵活就业参保一件事", "flexible_employment", P, {4, 7, 3}, -1},
      {"高校毕业生就业一件事", "graduate_employment", P, {4, 1, 26, 12}, -1},
      {"失业一件事", "unemployment", P, {4, 7, 5}, -1},
      {"员工录用一件事", "employee_hiring", C, {4, 7, 3, 26}, 4},
      {"结婚生育一件事", "marriage_birth", P, {5, 6, 1, 7}, -1},
      {"户口迁移一件事", "hukou_migration", P, {1, 12, 7, 4}, -1},
      {"居住证办理一件事", "residence_permit_bundle", P, {1, 4, 12}, 7},
      {"大病救助一件事", "serious_illness_aid", P, {7, 5, 6}, -1},
      {"困难群众救助一件事", "hardship_aid", P, {5, 4, 7, 8, 12}, 7},
      {"医疗费用报销一件事", "medical_reimbursement", P, {7, 6, 4}, -1},
      {"社会保障卡申领一件事", "ss_card_application", P, {4, 1, 7}, -1},
      {"住房公积金提取一件事", "housing_fund_withdrawal", P, {9, 4, 1}, 4},
      {"机动车登记一件事", "vehicle_registration", P, {1, 3, 11, 18}, -1},
      {"驾驶证换证一件事", "license_renewal", P, {1, 6}, -1},
      {"出入境证件办理一件事", "exit_entry_bundle", P, {1, 4}, -1},
      {"营运车辆年审一件事", "commercial_vehicle_review", C, {11, 1, 10}, -1},
      {"建筑工程施工许可一件事", "construction_permit_bundle", R, {8, 9, 19, 14, 22}, -1},
      {"房屋装修一件事", "home_renovation", P, {8, 22, 14}, 2},
      {"户外广告设置一件事", "outdoor_advertising", C, {22, 2, 9}, -1},
      {"城市道路占用挖掘一件事", "road_occupation", R, {22, 11, 8, 1}, -1},
      {"林木采伐一件事", "logging_bundle", R, {28, 16, 9}, -1},
      {"农村宅基地建房一件事", "rural_house_building", P, {16, 9, 8, 28}, -1},
      {"企业上市合法合规信息核查一件事", "ipo_compliance", C, {2, 3, 4, 7, 10, 14, 20, 8, 9}, -1},
      {"招商项目落地一件事", "investment_landing", R, {19, 9, 8, 10, 25, 2, 3}, 0},
      {"科技型企业创新政策扶持一件事", "tech_enterprise_support", C, {24, 3, 2, 25}, -1},
      {"信用修复一件事", "credit_repair", C, {2, 3, 20, 10}, -1},
      {"惠企政策兑现一件事", "policy_fulfilment", C, {20, 24, 25, 4, 18}, -1},
      {"社会组织成立一件事", "social_org_founding", C, {5, 3, 1, 21}, -1},
      {"举办体育赛事活动一件事", "sports_event", C, {13, 1, 14, 6, 22}, -1},
      {"老年人福利补贴申请一件事", "elderly_allowance", P, {5, 4, 7}, 7},
  };
  return kDefs;
}

// ---------------------------------------------------------------------------------------------
// The district model.

struct Material {
  std::string id;
  std::string title;
  int dept = 0;
  int object = -1;       // theme object, for generic materials
  std::string formats;   // upload formats, empty for e-licenses
  std::string elicense;  // e-license type, empty for uploads
  bool secondary = false;
  bool original = false;
  bool generic = false;  // from the department's shared pool (must end up needed)
  int producer = -1;     // item index that issues it
  int needed_by = 0;
};

struct Special {
  const SpecialDef* def;
  int max_h;
  bool pauses;
};

struct Item {
  std::string id;
  std::string title;
  std::string code;
  std::string basis;       // legal basis comment
  std::string guide;       // service-guide facts (comment)
  std::string conditions;  // 受理条件 (comment)
  const Action* action = nullptr;
  int dept = 0;
  int object = 0;
  std::string object_slug;
  bool immediate = false;
  int limit_h = 0;  // promised limit in half working days (0 when immediate)
  int stat_h = 0;   // statutory limit in half working days (0 = none stated)
  std::vector<int> needs;
  std::vector<int> produces;
  std::vector<int> sends;  // form_fields() indices, ascending
  std::vector<Special> specials;
  bool tolerant = false;
};

struct Dept {
  std::string id;
  std::string title;
  std::string adapter;
  const Theme* theme = nullptr;
  std::vector<int> sigs;       // signature e-license materials
  std::vector<int> generics;   // shared material pool
  std::vector<int> materials;  // all materials, in declaration order
  std::vector<int> items;
};

struct District {
  std::vector<Dept> depts;
  std::vector<Material> mats;
  std::vector<Item> items;
};

std::string dept_number(int d) { return pad(d + 1); }

// ---------------------------------------------------------------------------------------------
// Catalog construction.

void add_need(Item& item, int m) {
  if (std::find(item.needs.begin(), item.needs.end(), m) == item.needs.end())
    item.needs.push_back(m);
}

int pick_limit_h(Rng& rng) {
  static const int kLimits[] = {1, 2, 2, 2, 3, 4, 4, 6, 6, 8, 10, 10, 14, 20, 30, 40};
  return kLimits[rng.below(static_cast<int>(std::size(kLimits)))];
}

int pick_statutory_h(Rng& rng, int limit_h) {
  if (limit_h >= 2 && limit_h % 2 == 0 && rng.chance(12)) return limit_h;  // promise = law
  static const int kStat[] = {10, 20, 30, 40, 40, 40, 60, 90, 120};
  for (int tries = 0; tries < 20; ++tries) {
    const int s = kStat[rng.below(static_cast<int>(std::size(kStat)))];
    if (s >= limit_h) return s;
  }
  return std::max(limit_h, 40);
}

District build_district(const DistrictOptions& options) {
  Rng rng(stream_seed(options.seed, 0xCA7A1065));
  const auto& th = themes();
  const auto& acts = actions();
  const auto& dcs = docs();
  const auto& sps = specials();
  const int n_depts = std::max(1, options.departments);
  const int n_items = std::max(0, options.items);

  District dist;
  dist.depts.resize(static_cast<std::size_t>(n_depts));

  // Spread the items over the departments by theme weight plus noise.
  std::vector<int> counts(static_cast<std::size_t>(n_depts), 0);
  {
    std::vector<int> weights;
    long long total = 0;
    for (int d = 0; d < n_depts; ++d) {
      const int w = th[static_cast<std::size_t>(d) % th.size()].weight * 4 + rng.below(20);
      weights.push_back(w);
      total += w;
    }
    int assigned = 0;
    for (int d = 0; d < n_depts; ++d) {
      counts[static_cast<std::size_t>(d)] = static_cast<int>(
          static_cast<long long>(n_items) * weights[static_cast<std::size_t>(d)] / total);
      assigned += counts[static_cast<std::size_t>(d)];
    }
    for (int i = rng.below(n_depts); assigned < n_items; i = (i + 1) % n_depts) {
      ++counts[static_cast<std::size_t>(i)];
      ++assigned;
    }
  }

  std::vector<int> sig_pool;       // signature materials of departments seen so far
  std::vector<int> produced_pool;  // materials issued by items generated so far

  for (int d = 0; d < n_depts; ++d) {
    Dept& dept = dist.depts[static_cast<std::size_t>(d)];
    const Theme& theme = th[static_cast<std::size_t>(d) % th.size()];
    const int round = d / static_cast<int>(th.size());
    const std::string nn = dept_number(d);
    dept.theme = &theme;
    dept.id = "d" + nn;
    dept.title = theme.title;
    if (round > 0) dept.title += "第" + cn_number(round + 1) + "分局";
    dept.adapter = "sys_" + nn;

    auto new_material = [&](Material m) {
      m.dept = d;
      dist.mats.push_back(std::move(m));
      const int idx = static_cast<int>(dist.mats.size()) - 1;
      dept.materials.push_back(idx);
      return idx;
    };

    for (const Sig& s : theme.sigs) {
      Material m;
      m.id = "m" + nn + "_" + s.slug;
      m.title = s.zh;
      m.elicense = s.zh;
      const int idx = new_material(std::move(m));
      dept.sigs.push_back(idx);
      sig_pool.push_back(idx);
    }

    // The department's shared material pool: object × document type.
    const int n_obj = static_cast<int>(theme.objects.size());
    const int my_items = counts[static_cast<std::size_t>(d)];
    {
      std::vector<std::pair<int, int>> combos;
      for (int o = 0; o < n_obj; ++o)
        for (int k = 0; k < static_cast<int>(dcs.size()); ++k) combos.emplace_back(o, k);
      rng.shuffle(combos);
      const int n_generic = std::max(3, my_items * 4 / 5 + 3);
      for (int k = 0; k < n_generic; ++k) {
        const auto [o, doc_index] = combos[static_cast<std::size_t>(k) % combos.size()];
        const int again = k / static_cast<int>(combos.size());
        const Doc& doc = dcs[static_cast<std::size_t>(doc_index)];
        Material m;
        m.id = "m" + nn + "_" + theme.objects[static_cast<std::size_t>(o)].slug + "_" + doc.slug;
        m.title = std::string(theme.objects[static_cast<std::size_t>(o)].zh) + doc.zh;
        if (again > 0) {
          m.id += "_" + std::to_string(again + 1);
          m.title += "（" + cn_number(again + 1) + "）";
        }
        m.object = o;
        m.formats = doc.formats;
        m.secondary = rng.chance(doc.secondary_pct);
        m.original = !m.secondary && rng.chance(doc.original_pct);
        m.generic = true;
        dept.generics.push_back(new_material(std::move(m)));
      }
    }

    // Items: object × action.
    std::vector<std::pair<int, int>> combos;
    for (int o = 0; o < n_obj; ++o)
      for (int a = 0; a < static_cast<int>(acts.size()); ++a) combos.emplace_back(o, a);
    rng.shuffle(combos);
    for (int k = 0; k < my_items; ++k) {
      const auto [o, a] = combos[static_cast<std::size_t>(k) % combos.size()];
      const int again = k / static_cast<int>(combos.size());
      const Obj& obj = theme.objects[static_cast<std::size_t>(o)];
      const Action& act = acts[static_cast<std::size_t>(a)];
      Item it;
      it.dept = d;
      it.object = o;
      it.action = &act;
      it.object_slug = obj.slug;
      it.id = "i" + nn + "_" + obj.slug + "_" + act.slug;
      it.title = std::string(obj.zh) + act.zh;
      if (again > 0) {
        it.id += "_" + std::to_string(again + 1);
        it.title += "（" + cn_number(again + 1) + "）";
      }
      it.code = "330212" + pad((d + 1) % 100) + pad((k + 1) % 10000, 4);
      it.basis = std::string(theme.laws[static_cast<std::size_t>(o) % theme.laws.size()]) + "第" +
                 cn_number(rng.between(2, 80)) + "条";
      it.immediate = rng.chance(act.immediate_pct);
      {
        static const char* const kTarget[] = {"自然人", "企业法人、个体工商户、其他组织",
                                              "建设单位、项目业主"};
        static const char* const kZone[] = {"A", "B", "C", "D"};
        const bool online = rng.chance(98);
        it.guide = std::string("服务对象：") + kTarget[static_cast<int>(theme.aud)] +
                   "｜办理地点：区政务服务中心" + std::to_string(rng.between(1, 3)) + "楼" +
                   kZone[rng.below(4)] + "区" + pad(rng.between(1, 40)) + "号窗口｜收费：" +
                   (std::string_view(act.kind) == "payment" ? "按规定标准收费" : "不收费") +
                   "｜网办深度：" + (online ? "全程网办" : "窗口办理") + "｜到现场次数：" +
                   (online ? "0" : "1") + "次｜咨询电话：0574-8" + pad(rng.between(0, 9999999), 7);
        static const char* const kConditions[] = {"申请人具有完全民事行为能力",
                                                  "申请材料真实、完整、有效",
                                                  "经营场所符合相关标准和规范",
                                                  "无未办结的同类申请",
                                                  "依法取得营业执照",
                                                  "在本区有固定住所或经营场所",
                                                  "配备与经营规模相适应的专业人员",
                                                  "近三年内无严重失信记录",
                                                  "已按规定缴纳相关费用",
                                                  "符合国土空间规划和用途管制要求"};
        const int first = rng.below(10);
        const int second = (first + 1 + rng.below(9)) % 10;
        it.conditions = std::string(kConditions[first]) + "；" + kConditions[second] + "；" +
                        obj.zh + "相关事项符合法定条件";
      }
      if (it.immediate) {
        it.limit_h = 0;
        it.stat_h = rng.chance(70) ? 2 * rng.between(1, 20) : 0;
      } else {
        it.limit_h = pick_limit_h(rng);
        it.stat_h = pick_statutory_h(rng, it.limit_h);
      }
      const int self = static_cast<int>(dist.items.size());

      // needs: an application form of its own, the department's pool (same object first),
      // signature e-licenses of this or lower departments, now and then another
      // department's material or a document an earlier item issues.
      if (rng.chance(70)) {
        Material m;
        m.id = "m" + nn + "_" + obj.slug + "_" + act.slug +
               (again > 0 ? "_" + std::to_string(again + 1) : "") + "_form";
        m.title = it.title + "申请表";
        m.formats = "pdf";
        add_need(it, new_material(std::move(m)));
      }
      std::vector<int> same_object;
      for (int g : dept.generics)
        if (dist.mats[static_cast<std::size_t>(g)].object == o) same_object.push_back(g);
      const int n_own = rng.between(2, 3);
      for (int i = 0; i < n_own; ++i) {
        if (!same_object.empty() && rng.chance(85))
          add_need(it, rng.pick(same_object));
        else
          add_need(it, rng.pick(dept.generics));
      }
      if (!sig_pool.empty() && rng.chance(70)) {
        if (!dist.depts[0].sigs.empty() && rng.chance(45))
          add_need(it, dist.depts[0].sigs[0]);  // 居民身份证, the most shared e-license
        else
          add_need(it, rng.pick(sig_pool));
      }
      if (d > 0 && rng.chance(8)) {
        const Dept& other = dist.depts[static_cast<std::size_t>(rng.below(d))];
        if (!other.generics.empty()) add_need(it, rng.pick(other.generics));
      }
      if (!produced_pool.empty() && rng.chance(18)) add_need(it, rng.pick(produced_pool));
      if (it.needs.size() > 6) it.needs.resize(6);

      if (act.result != nullptr && rng.chance(30)) {
        Material m;
        m.id = "m" + nn + "_" + obj.slug + "_" + act.slug +
               (again > 0 ? "_" + std::to_string(again + 1) : "") + "_result";
        m.title = std::string(obj.zh) + act.result;
        if (again > 0) m.title += "（" + cn_number(again + 1) + "）";
        m.elicense = m.title;
        m.producer = self;
        const int idx = new_material(std::move(m));
        it.produces.push_back(idx);
      }

      const auto& pool = send_pool(theme.aud);
      std::vector<int> sends = pool;
      rng.shuffle(sends);
      sends.resize(static_cast<std::size_t>(
          std::min<int>(rng.between(1, 3), static_cast<int>(sends.size()))));
      std::sort(sends.begin(), sends.end());
      it.sends = std::move(sends);

      if (!it.immediate && rng.chance(30)) {
        std::vector<int> order(sps.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
        rng.shuffle(order);
        const int n_sp = rng.chance(80) ? 1 : 2;
        for (int i = 0; i < n_sp; ++i) {
          const SpecialDef& sd = sps[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])];
          it.specials.push_back({&sd, 2 * rng.between(sd.lo, sd.hi), rng.chance(85)});
        }
      }
      dist.items.push_back(std::move(it));
      dept.items.push_back(self);
      for (int p : dist.items.back().produces) produced_pool.push_back(p);
    }

    // Every pooled material ends up needed by some item of its department.
    for (int g : dept.generics) {
      bool used = false;
      for (int i : dept.items)
        for (int m : dist.items[static_cast<std::size_t>(i)].needs) used = used || m == g;
      if (used || dept.items.empty()) continue;
      std::vector<int> candidates;
      for (int i : dept.items) {
        const Item& it = dist.items[static_cast<std::size_t>(i)];
        if (it.needs.size() < 6 && it.object == dist.mats[static_cast<std::size_t>(g)].object)
          candidates.push_back(i);
      }
      if (candidates.empty())
        for (int i : dept.items)
          if (dist.items[static_cast<std::size_t>(i)].needs.size() < 6) candidates.push_back(i);
      if (candidates.empty()) continue;
      add_need(dist.items[static_cast<std::size_t>(rng.pick(candidates))], g);
    }
    // 容缺受理 only where a secondary material could be pending.
    for (int i : dept.items) {
      Item& it = dist.items[static_cast<std::size_t>(i)];
      bool any_secondary = false;
      for (int m : it.needs)
        any_secondary = any_secondary || dist.mats[static_cast<std::size_t>(m)].secondary;
      it.tolerant = any_secondary && rng.chance(60);
    }
  }
  for (const Item& it : dist.items)
    for (int m : it.needs) ++dist.mats[static_cast<std::size_t>(m)].needed_by;
  return dist;
}

// ---------------------------------------------------------------------------------------------
// Fixed files: the calendar and the lifecycles.

std::string calendar_text(std::uint64_t seed) {
  std::string t;
  t += "# calendars/district.flow — 区政务服务中心工作日历\n";
  t += "# generated by onevisit-gen-district (seed " + std::to_string(seed) + ")\n";
  t += "# 2024–2026: 国务院办公厅部分节假日安排的通知 (2025: 国办发明电〔2024〕12号).\n";
  t += "# 2027: projected with the same rules; replace when the State Council notice is out.\n\n";
  t += "calendar district \"区政务服务中心工作日历\" {\n";
  t += "  weekend sat sun\n";
  t += "  hours 09:00-12:00 13:30-17:30\n";
  struct Entry {
    bool holiday;
    const char* from;
    const char* to;
    const char* name;
  };
  static const Entry kEntries[] = {
      {true, "2024-01-01", nullptr, "元旦"},
      {false, "2024-02-04", nullptr, "春节调休上班"},
      {true, "2024-02-10", "2024-02-17", "春节"},
      {false, "2024-02-18", nullptr, "春节调休上班"},
      {true, "2024-04-04", "2024-04-06", "清明节"},
      {false, "2024-04-07", nullptr, "清明节调休上班"},
      {false, "2024-04-28", nullptr, "劳动节调休上班"},
      {true, "2024-05-01", "2024-05-05", "劳动节"},
      {false, "2024-05-11", nullptr, "劳动节调休上班"},
      {true, "2024-06-08", "2024-06-10", "端午节"},
      {false, "2024-09-14", nullptr, "中秋节调休上班"},
      {true, "2024-09-15", "2024-09-17", "中秋节"},
      {false, "2024-09-29", nullptr, "国庆节调休上班"},
      {true, "2024-10-01", "2024-10-07", "国庆节"},
      {false, "2024-10-12", nullptr, "国庆节调休上班"},
      {true, "2025-01-01", nullptr, "元旦"},
      {false, "2025-01-26", nullptr, "春节调休上班"},
      {true, "2025-01-28", "2025-02-04", "春节"},
      {false, "2025-02-08", nullptr, "春节调休上班"},
      {true, "2025-04-04", "2025-04-06", "清明节"},
      {false, "2025-04-27", nullptr, "劳动节调休上班"},
      {true, "2025-05-01", "2025-05-05", "劳动节"},
      {true, "2025-05-31", "2025-06-02", "端午节"},
      {false, "2025-09-28", nullptr, "国庆节、中秋节调休上班"},
      {true, "2025-10-01", "2025-10-08", "国庆节、中秋节"},
      {false, "2025-10-11", nullptr, "国庆节、中秋节调休上班"},
      {true, "2026-01-01", "2026-01-03", "元旦"},
      {false, "2026-01-04", nullptr, "元旦调休上班"},
      {false, "2026-02-14", nullptr, "春节调休上班"},
      {true, "2026-02-15", "2026-02-23", "春节"},
      {false, "2026-02-28", nullptr, "春节调休上班"},
      {true, "2026-04-04", "2026-04-06", "清明节"},
      {true, "2026-05-01", "2026-05-05", "劳动节"},
      {false, "2026-05-09", nullptr, "劳动节调休上班"},
      {true, "2026-06-19", "2026-06-21", "端午节"},
      {false, "2026-09-20", nullptr, "国庆节调休上班"},
      {true, "2026-09-25", "2026-09-27", "中秋节"},
      {true, "2026-10-01", "2026-10-07", "国庆节"},
      {false, "2026-10-10", nullptr, "国庆节调休上班"},
      {true, "2027-01-01", "2027-01-03", "元旦（预排）"},
      {true, "2027-02-05", "2027-02-12", "春节（预排）"},
      {false, "2027-02-20", nullptr, "春节调休上班（预排）"},
      {true, "2027-04-03", "2027-04-05", "清明节（预排）"},
      {false, "2027-04-25", nullptr, "劳动节调休上班（预排）"},
      {true, "2027-05-01", "2027-05-05", "劳动节（预排）"},
      {false, "2027-05-08", nullptr, "劳动节调休上班（预排）"},
      {true, "2027-06-09", nullptr, "端午节（预排）"},
      {true, "2027-09-15", nullptr, "中秋节（预排）"},
      {false, "2027-09-26", nullptr, "国庆节调休上班（预排）"},
      {true, "2027-10-01", "2027-10-07", "国庆节（预排）"},
      {false, "2027-10-09", nullptr, "国庆节调休上班（预排）"},
  };
  for (const Entry& e : kEntries) {
    t += e.holiday ? "  holiday " : "  workday ";
    t += e.from;
    if (e.to != nullptr) {
      t += "..";
      t += e.to;
    }
    t += " " + quote(e.name) + "\n";
  }
  t += "}\n";
  return t;
}

std::string lifecycle_text(std::uint64_t seed) {
  std::string t;
  t += "# lifecycles/standard.flow — 事项办理状态机\n";
  t += "# generated by onevisit-gen-district (seed " + std::to_string(seed) + ")\n\n";
  t += "# 承诺件: 受理 → 审查 → 办结；补正期间暂停计时，一次性告知；超过补正期限视为撤回。\n";
  t += "lifecycle standard \"标准办件流程\" {\n";
  t += "  state submitted \"已提交\" initial\n";
  t += "  state accepted \"已受理\"\n";
  t += "  state correcting \"补正中\" pauses_clock\n";
  t += "  state approved \"已办结\" final\n";
  t += "  state rejected \"不予办理\" final\n";
  t += "  state withdrawn \"已撤回\" final\n";
  t += "  on accept: submitted -> accepted by clerk when materials.complete do call(dept.submit), "
       "notify(applicant, \"您的申请已受理，请留意办理进度\")\n";
  t += "  on accept_tolerant: submitted -> accepted by clerk when materials.pending > 0 and "
       "materials.pending <= 2 requires reason do call(dept.submit), notify(applicant, "
       "\"已容缺受理，请在5个工作日内补齐材料\")\n";
  t += "  on request_correction: submitted, accepted -> correcting by clerk, reviewer when "
       "item.corrections == 0 requires reason do notify(applicant, \"请按一次性告知书补正材料\")\n";
  t += "  on corrected: correcting -> submitted by applicant\n";
  t += "  on correction_expired: correcting -> withdrawn by system after 5 workdays do "
       "notify(applicant, \"补正期限已过，申请视为撤回\")\n";
  t += "  on approve: accepted -> approved by reviewer when materials.verified and "
       "materials.pending == 0 do call(dept.submit), notify(applicant, "
       "\"审批通过，请按选择的方式领取结果\")\n";
  t += "  on reject: accepted -> rejected by reviewer requires reason do notify(applicant, "
       "\"不予办理，理由见决定书\")\n";
  t += "  on withdraw: submitted, accepted, correcting -> withdrawn by applicant requires reason\n";
  t += "  warn at 80%\n";
  t += "  on warning do notify(clerk, \"办件即将到期，请尽快办理\")\n";
  t += "  on overdue do escalate(supervisor), notify(clerk, \"办件已超期\")\n";
  t += "}\n\n";
  t += "# 即办件: 材料齐全当场办结。\n";
  t += "lifecycle instant \"即办件流程\" {\n";
  t += "  state submitted \"已提交\" initial\n";
  t += "  state approved \"已办结\" final\n";
  t += "  state rejected \"不予办理\" final\n";
  t += "  on approve: submitted -> approved by clerk when materials.complete do call(dept.submit), "
       "notify(applicant, \"即办件已办结\")\n";
  t += "  on reject: submitted -> rejected by clerk requires reason do notify(applicant, "
       "\"不予办理，理由见决定书\")\n";
  t += "  warn at 2 hours left\n";
  t += "  on overdue do escalate(supervisor)\n";
  t += "}\n";
  return t;
}

// ---------------------------------------------------------------------------------------------
// Catalog files.

std::string material_line(const Material& m) {
  std::string s = "material " + m.id + " " + quote(m.title);
  if (!m.elicense.empty()) {
    s += " from elicense " + quote(m.elicense);
  } else {
    s += " upload " + m.formats;
  }
  if (m.original) s += " original";
  if (m.secondary) s += " secondary";
  return s + "\n";
}

std::string catalog_text(const District& dist, int d, std::uint64_t seed) {
  const Dept& dept = dist.depts[static_cast<std::size_t>(d)];
  const auto& fields = form_fields();
  std::set<int> imports;
  for (int i : dept.items)
    for (int m : dist.items[static_cast<std::size_t>(i)].needs) {
      const int md = dist.mats[static_cast<std::size_t>(m)].dept;
      if (md != d) imports.insert(md);
    }

  std::string t;
  t += "# catalog/dept_" + dept_number(d) + ".flow — " + dept.title + " 政务服务事项目录\n";
  t += "# generated by onevisit-gen-district (seed " + std::to_string(seed) +
       "): " + std::to_string(dept.items.size()) + " items, " +
       std::to_string(dept.materials.size()) + " materials\n";
  for (int md : imports) t += "import \"dept_" + dept_number(md) + ".flow\"\n";
  t += "\n";
  t += "department " + dept.id + " " + quote(dept.title) + " adapter " + dept.adapter +
       " kind government\n\n";
  t += "# ---- 材料 ----\n";
  for (int m : dept.materials) t += material_line(dist.mats[static_cast<std::size_t>(m)]);
  t += "\n# ---- 事项 ----\n";
  for (int i : dept.items) {
    const Item& it = dist.items[static_cast<std::size_t>(i)];
    t += "\n# " + it.title + "｜依据" + it.basis + "\n";
    t += "# " + it.guide + "\n";
    t += "# 受理条件：" + it.conditions + "\n";
    t += "item " + it.id + " " + quote(it.title) + " by " + dept.id + " {\n";
    t += "  code " + quote(it.code) + "\n";
    t += "  kind " + std::string(it.action->kind) + "\n";
    // Some statutory limits are in calendar days, as laws write them (行政许可法 §42: 20 days);
    // a day count at least as long as the working days keeps promised <= statutory.
    const bool calendar_days = it.stat_h > 0 && i % 8 == 3;
    const std::string statutory = calendar_days ? std::to_string((it.stat_h + 1) / 2 * 7 / 5 + 2) + " days" : workdays(it.stat_h);
    if (it.immediate) {
      t += "  immediate\n";
      if (it.stat_h > 0) t += "  statutory " + statutory + "\n";
    } else {
      t += "  limit " + workdays(it.limit_h) + " statutory " + statutory + "\n";
    }
    std::vector<std::string> names;
    for (int m : it.needs) names.push_back(dist.mats[static_cast<std::size_t>(m)].id);
    t += "  needs " + join(names, ", ") + "\n";
    if (!it.produces.empty()) {
      names.clear();
      for (int m : it.produces) names.push_back(dist.mats[static_cast<std::size_t>(m)].id);
      t += "  produces " + join(names, ", ") + "\n";
    }
    names.clear();
    for (int f : it.sends) names.push_back(fields[static_cast<std::size_t>(f)].id);
    t += "  sends " + join(names, ", ") + "\n";
    for (const Special& sp : it.specials) {
      t += "  special " + std::string(sp.def->slug) + " " + quote(sp.def->zh) + " max " +
           workdays(sp.max_h) + (sp.pauses ? " pauses_clock" : "") + "\n";
    }
    if (it.tolerant) t += "  tolerant\n";
    t += "}\n";
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// Typed expressions.

struct Operand {
  std::string text;
  T type = T::kBool;
  int lo = 0;
  int hi = 0;
  std::vector<std::string> labels;  // enum members or decision outputs
  std::string hint;
};

Operand operand_of(const FieldDef& f) {
  Operand o;
  o.text = f.id;
  o.type = f.type;
  o.lo = f.lo;
  o.hi = f.hi;
  for (const Member& m : f.members) o.labels.push_back(m.id);
  if (has(f.hint)) o.hint = f.hint;
  return o;
}

// A round threshold near v: 1234 -> 1200, 56 -> 56.
int nice(int v) {
  if (v < 100) return v;
  int p = 1;
  while (v / p >= 100) p *= 10;
  return v / p * p;
}

const char* compare_op(Rng& rng) {
  static const char* const kOps[] = {">", ">=", "<", "<=", ">=", ">"};
  return kOps[rng.below(static_cast<int>(std::size(kOps)))];
}

std::string atom(Rng& rng, const Operand& o) {
  const std::string& t = o.text;
  switch (o.type) {
    case T::kBool:
      return rng.chance(75) ? t : "not " + t;
    case T::kInt: {
      // Decision outputs carry their values as labels; compare against one of them.
      const int k = o.labels.empty() ? rng.between(o.lo, o.hi) : std::stoi(rng.pick(o.labels));
      const int form = rng.below(10);
      if (form < 6) return t + " " + compare_op(rng) + " " + std::to_string(k);
      if (form < 8 && o.hi > o.lo) {
        std::set<int> values;
        const int n = rng.between(2, 3);
        for (int i = 0; i < n; ++i) values.insert(rng.between(o.lo, o.hi));
        std::vector<std::string> parts;
        for (int v : values) parts.push_back(std::to_string(v));
        return t + " in [" + join(parts, ", ") + "]";
      }
      if (form < 9) return t + " * 2 >= " + std::to_string(2 * k);
      return t + " + 1 > " + std::to_string(k);
    }
    case T::kDecimal:
    case T::kMoney: {
      std::string lit = std::to_string(nice(rng.between(o.lo, o.hi)));
      if (o.type == T::kDecimal && rng.chance(25)) lit += ".5";
      if (rng.chance(85)) return t + " " + compare_op(rng) + " " + lit;
      return t + " * 1.2 >= " + lit;
    }
    case T::kText: {
      const int form = rng.below(10);
      if (!o.hint.empty() && form < 5) return "contains(" + t + ", " + quote(o.hint) + ")";
      if (form < 7) return "len(" + t + ") > 0";
      if (form < 9) return "len(" + t + ") >= " + std::to_string(rng.between(2, 6));
      return t + " != \"\"";
    }
    case T::kDate: {
      const int y = rng.between(o.lo, o.hi);
      switch (rng.below(4)) {
        case 0:
          return t + " >= date(\"" + std::to_string(y) + "-01-01\")";
        case 1:
          return t + " < date(\"" + std::to_string(y) + "-07-01\")";
        case 2:
          return "workdays_between(" + t + ", today()) <= " + std::to_string(rng.between(5, 60));
        default:
          return t + " <= today()";
      }
    }
    case T::kIdCard: {
      switch (rng.below(5)) {
        case 0:
        case 1:
          return "age(" + t + ") >= " + std::to_string(rng.between(o.lo, o.hi));
        case 2:
          return "age(" + t + ") < " + std::to_string(rng.between(o.lo, o.hi));
        case 3:
          return "valid_idcard(" + t + ")";
        default:
          return "birth_date(" + t + ") < date(\"" + std::to_string(rng.between(1955, 2005)) +
                 "-01-01\")";
      }
    }
    case T::kUscc:
      return rng.chance(80) ? "valid_uscc(" + t + ")" : "len(" + t + ") == 18";
    case T::kPhone:
      return rng.chance(50) ? "len(" + t + ") == 11" : "matches(" + t + ", \"^1[3-9][0-9]{9}$\")";
    case T::kEnum:
    case T::kLabel: {
      const std::string m = rng.pick(o.labels);
      const int form = rng.below(10);
      if (form < 5 || o.labels.size() < 2) return t + (form < 8 ? " == " : " != ") + quote(m);
      if (form < 7) return t + " != " + quote(m);
      std::vector<std::string> pool = o.labels;
      rng.shuffle(pool);
      pool.resize(2);
      std::vector<std::string> q;
      for (const auto& p : pool) q.push_back(quote(p));
      return t + (form < 9 ? " in [" : " not in [") + join(q, ", ") + "]";
    }
    case T::kListText:
      switch (rng.below(3)) {
        case 0:
          return "len(" + t + ") > 0";
        case 1:
          return "len(" + t + ") >= 2";
        default:
          return "len(" + t + ") == 0";
      }
    case T::kListEnum:
    case T::kLabelList:
      return rng.chance(80) ? quote(rng.pick(o.labels)) + " in " + t : "len(" + t + ") > 0";
  }
  return "true";
}

// A bool expression of 1..3 atoms over distinct operands.
std::string expression(Rng& rng, const std::vector<Operand>& ops) {
  if (ops.empty()) return "true";
  const int r = rng.below(100);
  const int n = std::min<int>(r < 55 ? 1 : r < 90 ? 2 : 3, static_cast<int>(ops.size()));
  std::vector<int> order(ops.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  rng.shuffle(order);
  std::vector<std::string> a;
  for (int i = 0; i < n; ++i)
    a.push_back(atom(rng, ops[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])]));
  if (n == 1) {
    if (rng.chance(8) && a[0].rfind("not ", 0) != 0) return "not (" + a[0] + ")";
    return a[0];
  }
  if (n == 2) return a[0] + (rng.chance(60) ? " and " : " or ") + a[1];
  switch (rng.below(4)) {
    case 0:
      return a[0] + " and " + a[1] + " and " + a[2];
    case 1:
      return "(" + a[0] + " or " + a[1] + ") and " + a[2];
    case 2:
      return a[0] + " or (" + a[1] + " and " + a[2] + ")";
    default:
      return "not (" + a[0] + " or " + a[1] + ") and " + a[2];
  }
}

std::string type_text(const FieldDef& f) {
  switch (f.type) {
    case T::kText:
      return "text";
    case T::kInt:
      return "int";
    case T::kDecimal:
      return "decimal";
    case T::kMoney:
      return "money";
    case T::kBool:
      return "bool";
    case T::kDate:
      return "date";
    case T::kIdCard:
      return "idcard";
    case T::kUscc:
      return "uscc";
    case T::kPhone:
      return "phone";
    case T::kListText:
      return "list(text)";
    case T::kListEnum: {
      std::vector<std::string> parts;
      for (const Member& m : f.members) parts.push_back(std::string(m.id) + " " + quote(m.zh));
      return "list(enum(" + join(parts, ", ") + "))";
    }
    case T::kEnum: {
      std::vector<std::string> parts;
      for (const Member& m : f.members) parts.push_back(std::string(m.id) + " " + quote(m.zh));
      return "enum(" + join(parts, ", ") + ")";
    }
    case T::kLabel:
    case T::kLabelList:
      break;
  }
  return "text";
}

// Writes a form or situation block. `required` holds the indices (into `defs`) that must be
// required; others are required, defaulted or conditional at random.
std::string field_block(Rng& rng, const char* keyword, const std::vector<FieldDef>& defs,
                        const std::vector<int>& chosen, const std::set<int>& required,
                        const std::set<int>& fixed, int optional_required_pct) {
  std::string t = "  " + std::string(keyword) + " {\n";
  std::vector<std::string> earlier_bools;
  for (int idx : chosen) {
    const FieldDef& f = defs[static_cast<std::size_t>(idx)];
    std::string line = "    " + std::string(f.id) + " " + quote(f.zh) + ": " + type_text(f);
    bool req = required.count(idx) != 0 || (!has(f.def) && rng.chance(optional_required_pct));
    if (req) line += " required";
    if (has(f.def) && !req && rng.chance(75)) line += " default " + std::string(f.def);
    if (has(f.opts)) line += " " + std::string(f.opts);
    if (!req && fixed.count(idx) == 0 && !earlier_bools.empty() && rng.chance(20)) {
      const std::string& b = rng.pick(earlier_bools);
      line += " when " + (rng.chance(70) ? b : "not " + b);
    }
    if (f.type == T::kBool) earlier_bools.push_back(f.id);
    t += line + "\n";
  }
  t += "  }\n";
  return t;
}

// Writes 0..2 decision tables over the bundle's fields (`ops`); returns their text and adds
// an operand for each table a `when` may reference to `decision_ops`.
std::string decision_tables(Rng& rng, const std::string& prefix, const std::vector<int>& form,
                            const std::vector<Operand>& ops, std::vector<Operand>& decision_ops) {
  const auto& fields = form_fields();
  std::string decisions;
  std::vector<int> kinds = {0, 1, 2, 3};
  rng.shuffle(kinds);
  const int n_dec = rng.chance(72) ? (rng.chance(30) ? 2 : 1) : 0;
  int made = 0;
  for (int kind : kinds) {
    if (made >= n_dec) break;
    if (kind == 0) {  // first: a routing label
      static const std::vector<std::string> kRoutes = {"fast_track", "joint_review", "site_visit",
                                                       "expert_review", "notify_only"};
      std::vector<std::string> routes = kRoutes;
      rng.shuffle(routes);
      const int rows = rng.between(2, 3);
      Operand o;
      o.text = prefix + "_route";
      o.type = T::kLabel;
      decisions += "  decide " + o.text + " \"办理路径\" first {\n";
      for (int r = 0; r < rows; ++r) {
        decisions += "    when " + expression(rng, ops) + " -> " +
                     quote(routes[static_cast<std::size_t>(r)]) + "\n";
        o.labels.push_back(routes[static_cast<std::size_t>(r)]);
      }
      decisions += "    otherwise -> \"standard\"\n  }\n";
      o.labels.push_back("standard");
      decision_ops.push_back(std::move(o));
    } else if (kind == 1) {  // unique with a parameter: a fee band
      std::vector<int> numeric;
      for (int f : form) {
        const T ty = fields[static_cast<std::size_t>(f)].type;
        if (ty == T::kInt || ty == T::kDecimal || ty == T::kMoney) numeric.push_back(f);
      }
      const FieldDef* arg =
          numeric.empty() ? nullptr : &fields[static_cast<std::size_t>(rng.pick(numeric))];
      const char* ptype = arg == nullptr           ? "decimal"
                          : arg->type == T::kInt   ? "int"
                          : arg->type == T::kMoney ? "money"
                                                   : "decimal";
      const std::string pname = arg != nullptr && arg->type == T::kInt ? "quantity" : "amount";
      const int lo = arg != nullptr ? arg->lo : 10;
      const int hi = arg != nullptr ? std::max(arg->hi, arg->lo + 2) : 1000;
      int t1 = nice(rng.between(lo, (lo + hi) / 2));
      int t2 = nice(rng.between((lo + hi) / 2, hi));
      if (t2 <= t1) t2 = t1 + 1;
      static const int kFees[] = {0, 50, 100, 200, 300, 500, 800, 1000, 1500};
      const int f0 = rng.below(3);
      const int f1 = f0 + 1 + rng.below(3);
      const int f2 = f1 + 1 + rng.below(3);
      const std::string name = prefix + "_fee";
      decisions += "  decide " + name + " \"收费标准\" (" + pname + ": " + ptype + ") unique {\n";
      decisions += "    when " + pname + " < " + std::to_string(t1) + " -> " +
                   std::to_string(kFees[f0]) + "\n";
      decisions += "    when " + pname + " >= " + std::to_string(t1) + " and " + pname + " < " +
                   std::to_string(t2) + " -> " + std::to_string(kFees[f1]) + "\n";
      decisions += "    when " + pname + " >= " + std::to_string(t2) + " -> " +
                   std::to_string(kFees[f2]) + "\n";
      decisions += "  }\n";
      if (arg != nullptr) {
        Operand o;
        o.text = name + "(" + arg->id + ")";
        o.type = T::kInt;
        o.lo = kFees[f0];
        o.hi = kFees[f2];
        o.labels = {std::to_string(kFees[f0]), std::to_string(kFees[f1]),
                    std::to_string(kFees[f2])};
        decision_ops.push_back(std::move(o));
      }
    } else if (kind == 2) {  // collect: joint inspections
      static const std::vector<std::string> kChecks = {"fire_safety", "environment", "health",
                                                       "traffic",     "planning",    "work_safety"};
      Operand o;
      o.text = prefix + "_checks";
      o.type = T::kLabelList;
      decisions += "  decide " + o.text + " \"联合踏勘内容\" collect {\n";
      const int rows = rng.between(2, 4);
      std::set<std::string> all;
      for (int r = 0; r < rows; ++r) {
        std::vector<std::string> pool = kChecks;
        rng.shuffle(pool);
        pool.resize(static_cast<std::size_t>(rng.between(1, 2)));
        std::vector<std::string> q;
        for (const auto& p : pool) {
          q.push_back(quote(p));
          all.insert(p);
        }
        decisions += "    when " + expression(rng, ops) + " -> " + join(q, ", ") + "\n";
      }
      decisions += "  }\n";
      o.labels.assign(all.begin(), all.end());
      decision_ops.push_back(std::move(o));
    } else {  // unique over an enum: risk grade
      std::vector<int> enums;
      for (int f : form)
        if (fields[static_cast<std::size_t>(f)].type == T::kEnum) enums.push_back(f);
      if (enums.empty()) continue;
      const FieldDef& e = fields[static_cast<std::size_t>(rng.pick(enums))];
      const std::string name = prefix + "_grade";
      decisions += "  decide " + name + " \"风险等级\" unique {\n";
      for (const Member& m : e.members)
        decisions += "    when " + std::string(e.id) + " == " + quote(m.id) + " -> " +
                     std::to_string(rng.between(1, 3)) + "\n";
      decisions += "  }\n";
      Operand o;
      o.text = name;
      o.type = T::kInt;
      o.lo = 1;
      o.hi = 3;
      decision_ops.push_back(std::move(o));
    }
    ++made;
  }
  return decisions;
}

// ---------------------------------------------------------------------------------------------
// Bundle files.

struct Use {
  int item = 0;
  std::string alias;
  std::vector<std::string> after;
  std::string when;
  int limit_h = -1;  // override of the promised limit
  bool instant = false;
};

std::string bundle_text(const District& dist, int b, std::uint64_t seed) {
  Rng rng(stream_seed(seed, 0xB0000 + static_cast<std::uint64_t>(b)));
  const auto& defs = bundle_defs();
  const BundleDef& def = defs[static_cast<std::size_t>(b) % defs.size()];
  const int round = b / static_cast<int>(defs.size());
  const std::string prefix = "b" + pad(b + 1);
  std::string slug = def.slug;
  std::string title = def.zh;
  if (round > 0) {
    slug += "_" + std::to_string(round + 1);
    title += "（第" + cn_number(round + 1) + "批）";
  }
  const auto& fields = form_fields();
  const auto& sfields = situation_fields();
  const int n_depts = static_cast<int>(dist.depts.size());

  // --- which catalog items ---
  std::vector<int> theme_depts;
  for (int t : def.depts) {
    const int d = t - 1;
    if (d < n_depts && !dist.depts[static_cast<std::size_t>(d)].items.empty())
      theme_depts.push_back(d);
  }
  std::vector<int> nonempty;
  for (int d = 0; d < n_depts; ++d)
    if (!dist.depts[static_cast<std::size_t>(d)].items.empty()) nonempty.push_back(d);
  if (theme_depts.empty() && !nonempty.empty()) theme_depts.push_back(rng.pick(nonempty));

  std::set<int> chosen;
  // 3..30 items, mostly around 16; some bundles are small (驾驶证换证 has a handful).
  const int size =
      rng.chance(15) ? rng.between(3, 6) : 3 + rng.below(10) + rng.below(10) + rng.below(9);
  const int want = std::min<int>(size, static_cast<int>(dist.items.size()));
  // The first theme department leads: it always contributes and is drawn more often.
  if (want > 0)
    chosen.insert(rng.pick(dist.depts[static_cast<std::size_t>(theme_depts.front())].items));
  for (int attempts = 0; static_cast<int>(chosen.size()) < want && attempts < 2000; ++attempts) {
    const int d = rng.chance(30)   ? theme_depts.front()
                  : rng.chance(90) ? rng.pick(theme_depts)
                                   : rng.pick(nonempty);
    chosen.insert(rng.pick(dist.depts[static_cast<std::size_t>(d)].items));
  }
  // Bring in the producers of documents the chosen items need, now and then.
  for (int c : std::vector<int>(chosen.begin(), chosen.end()))
    for (int m : dist.items[static_cast<std::size_t>(c)].needs) {
      const int p = dist.mats[static_cast<std::size_t>(m)].producer;
      if (p >= 0 && chosen.count(p) == 0 && chosen.size() < 30 && rng.chance(45)) chosen.insert(p);
    }

  std::vector<Use> uses;
  for (int c : chosen) {  // ascending index: producers come before consumers
    Use u;
    u.item = c;
    const Item& it = dist.items[static_cast<std::size_t>(c)];
    if (rng.chance(55))
      u.alias = "s" + pad(static_cast<int>(uses.size()) + 1) + "_" + it.object_slug;
    uses.push_back(std::move(u));
  }
  auto ref = [&](const Use& u) {
    return u.alias.empty() ? dist.items[static_cast<std::size_t>(u.item)].id : u.alias;
  };

  // --- the bundle-local organisation, if any ---
  const LocalSpec* local = nullptr;
  if (def.local >= 0)
    local = &local_specs()[static_cast<std::size_t>(def.local)];
  else if (rng.chance(15))
    local = &rng.pick(local_specs());
  const bool local_two = local != nullptr && rng.chance(60);
  std::vector<int> local1_sends;
  if (local != nullptr) {
    local1_sends = {0, 2};
    if (rng.chance(50)) local1_sends.push_back(3);
  }
  int local_catalog_need = -1;  // a catalog material the local item needs
  if (local != nullptr && rng.chance(50) && !dist.depts.empty()) {
    if (!dist.depts[0].sigs.empty() && rng.chance(60))
      local_catalog_need = dist.depts[0].sigs[0];
    else {
      std::vector<int> sigs;
      for (const Dept& d : dist.depts)
        for (int s : d.sigs) sigs.push_back(s);
      if (!sigs.empty()) local_catalog_need = rng.pick(sigs);
    }
  }

  // --- form: every field any item sends, the applicant's identity, and extras ---
  std::set<int> sent;
  for (int i = 0; i < kAlwaysInForm; ++i) sent.insert(i);
  for (const Use& u : uses)
    for (int f : dist.items[static_cast<std::size_t>(u.item)].sends) sent.insert(f);
  for (int f : local1_sends) sent.insert(f);
  if (local_two) sent.insert(2);
  std::vector<int> form(sent.begin(), sent.end());
  const int target = std::max<int>(static_cast<int>(form.size()), rng.between(4, 20));
  {
    std::vector<int> extras = extra_pool(def.aud);
    rng.shuffle(extras);
    for (int e : extras) {
      if (static_cast<int>(form.size()) >= target) break;
      if (sent.count(e) == 0) form.push_back(e);
    }
  }
  std::set<int> form_required;
  for (int i = 0; i < kAlwaysInForm; ++i) form_required.insert(i);
  for (int f : sent)
    if (rng.chance(60)) form_required.insert(f);

  std::vector<int> situation = situation_pool(def.aud);
  rng.shuffle(situation);
  situation.resize(static_cast<std::size_t>(
      std::min<int>(rng.between(1, 4), static_cast<int>(situation.size()))));
  std::sort(situation.begin(), situation.end());

  std::vector<Operand> ops;
  for (int f : form) ops.push_back(operand_of(fields[static_cast<std::size_t>(f)]));
  for (int s : situation) ops.push_back(operand_of(sfields[static_cast<std::size_t>(s)]));

  // --- decision tables ---
  std::vector<Operand> decision_ops;
  const std::string decisions = decision_tables(rng, prefix, form, ops, decision_ops);

  // --- dependencies, conditions, overrides ---
  std::map<std::string, int> index_of;  // reference name -> node index (uses, then local items)
  std::vector<int> duration;            // effective promised limit (halves) per node
  std::vector<std::vector<int>> deps;
  bool decision_used = false;
  for (std::size_t k = 0; k < uses.size(); ++k) {
    Use& u = uses[k];
    const Item& it = dist.items[static_cast<std::size_t>(u.item)];
    std::vector<int> dep;
    for (int m : it.needs) {
      const int p = dist.mats[static_cast<std::size_t>(m)].producer;
      if (p < 0) continue;
      for (std::size_t j = 0; j < k; ++j)
        if (uses[j].item == p &&
            std::find(dep.begin(), dep.end(), static_cast<int>(j)) == dep.end())
          dep.push_back(static_cast<int>(j));
    }
    if (k > 0 && rng.chance(28)) {
      const int j = rng.below(static_cast<int>(k));
      if (std::find(dep.begin(), dep.end(), j) == dep.end()) dep.push_back(j);
    }
    std::sort(dep.begin(), dep.end());
    for (int j : dep) u.after.push_back(ref(uses[static_cast<std::size_t>(j)]));
    if (rng.chance(35)) {
      if (!decision_ops.empty() && (!decision_used || rng.chance(25))) {
        u.when = atom(rng, rng.pick(decision_ops));
        decision_used = true;
      } else {
        u.when = expression(rng, ops);
      }
    }
    if (!it.immediate && it.limit_h >= 2 && rng.chance(15))
      u.limit_h = rng.between(1, it.limit_h - 1);
    if (it.immediate && rng.chance(35)) u.instant = true;
    index_of[ref(u)] = static_cast<int>(k);
    duration.push_back(it.immediate ? 0 : (u.limit_h >= 0 ? u.limit_h : it.limit_h));
    deps.push_back(std::move(dep));
  }

  // --- local declarations ---
  std::string local_text;
  std::set<int> imports;
  for (const Use& u : uses) imports.insert(dist.items[static_cast<std::size_t>(u.item)].dept);
  if (local != nullptr) {
    const std::string dept_id = prefix + "_" + local->slug;
    const std::string item1 = prefix + "_" + local->item1_slug;
    const std::string item2 = prefix + "_" + local->item2_slug;
    const std::string form_mat = prefix + "_" + local->form_slug;
    const std::string result_mat = prefix + "_" + local->result_slug;
    const bool secondary = rng.chance(30);
    local_text += "  # 本一件事特有的办理单位与材料\n";
    local_text += "  department " + dept_id + " " + quote(local->dept_zh) + " adapter " +
                  local->slug + "_gateway kind " + local->kind + "\n";
    local_text += "  material " + form_mat + " " + quote(local->form_zh) + " upload pdf, jpg" +
                  (secondary ? " secondary" : "");
    if (rng.chance(20)) local_text += " when " + expression(rng, ops);
    local_text += "\n";
    if (local_two)
      local_text += "  material " + result_mat + " " + quote(local->result_zh) + " produced_by " +
                    item1 + "\n";

    local_text += "\x01";  // split point: the local items go after the uses
    std::vector<int> dep1;
    std::string head1 = "  item " + item1 + " " + quote(local->item1_zh) + " by " + dept_id;
    if (!uses.empty() && rng.chance(50)) {
      const int j = rng.below(static_cast<int>(uses.size()));
      head1 += " after " + ref(uses[static_cast<std::size_t>(j)]);
      dep1.push_back(j);
    }
    // The second local item needs the first one's result, so it runs only when the first does.
    std::string when1;
    if (rng.chance(25)) {
      when1 = expression(rng, ops);
      head1 += " when " + when1;
    }
    const int limit1 = std::vector<int>{1, 2, 4, 6}[static_cast<std::size_t>(rng.below(4))];
    local_text += head1 + " {\n";
    local_text += "    code \"3302129" + pad((b + 1) % 100) + "001\"\n";
    local_text += "    kind service\n";
    local_text +=
        "    limit " + workdays(limit1) + " statutory " + workdays(rng.chance(50) ? 10 : 20) + "\n";
    std::string needs1 = form_mat;
    if (local_catalog_need >= 0) {
      const Material& m = dist.mats[static_cast<std::size_t>(local_catalog_need)];
      needs1 += ", " + m.id;
      imports.insert(m.dept);
    }
    local_text += "    needs " + needs1 + "\n";
    if (local_two) local_text += "    produces " + result_mat + "\n";
    std::vector<std::string> s1;
    for (int f : local1_sends) s1.push_back(fields[static_cast<std::size_t>(f)].id);
    local_text += "    sends " + join(s1, ", ") + "\n";
    if (secondary) local_text += "    tolerant\n";
    local_text += "  }\n";
    index_of[item1] = static_cast<int>(duration.size());
    duration.push_back(limit1);
    deps.push_back(dep1);
    if (local_two) {
      const int limit2 = rng.chance(50) ? 1 : 2;
      local_text += "  item " + item2 + " " + quote(local->item2_zh) + " by " + dept_id +
                    " after " + item1 + (when1.empty() ? "" : " when " + when1) + " {\n";
      local_text += "    code \"3302129" + pad((b + 1) % 100) + "002\"\n";
      local_text += "    kind service\n";
      local_text += "    limit " + workdays(limit2) + "\n";
      local_text += "    needs " + result_mat + "\n";
      local_text += "    sends contact_phone\n";
      local_text += "  }\n";
      deps.push_back({index_of[item1]});
      duration.push_back(limit2);
    }
  }

  // Promise: at least the longest chain of promised limits, never under one working day.
  int critical = 0;
  {
    std::vector<int> finish(duration.size(), 0);
    for (std::size_t i = 0; i < duration.size(); ++i) {
      int start = 0;
      for (int j : deps[i]) start = std::max(start, finish[static_cast<std::size_t>(j)]);
      finish[i] = start + duration[i];
      critical = std::max(critical, finish[i]);
    }
  }
  const int promise_h = std::max(2, (critical + 1) / 2 * 2) + 2 * rng.below(3);

  // Lead department: the first theme department actually used.
  int lead = uses.empty() ? -1 : dist.items[static_cast<std::size_t>(uses.front().item)].dept;
  for (int d : theme_depts) {
    bool used = false;
    for (const Use& u : uses) used = used || dist.items[static_cast<std::size_t>(u.item)].dept == d;
    if (used) {
      lead = d;
      break;
    }
  }

  // The bundle's figures, as a service designer would quote them.
  int n_immediate = 0;
  int separate_submissions = 0;
  int separate_days_h = 0;
  std::set<int> distinct_materials;
  std::set<int> item_depts;
  for (const Use& u : uses) {
    const Item& it = dist.items[static_cast<std::size_t>(u.item)];
    n_immediate += it.immediate ? 1 : 0;
    separate_submissions += static_cast<int>(it.needs.size());
    separate_days_h += it.immediate ? 0 : it.limit_h;
    item_depts.insert(it.dept);
    for (int m : it.needs) distinct_materials.insert(m);
  }
  int exempt = 0;
  for (int m : distinct_materials)
    exempt += dist.mats[static_cast<std::size_t>(m)].elicense.empty() ? 0 : 1;
  const int n_local = local == nullptr ? 0 : (local_two ? 2 : 1);
  const int local_submissions = local == nullptr ? 0 : 1 + (local_catalog_need >= 0 ? 1 : 0);
  const bool local_need_new =
      local_catalog_need >= 0 && distinct_materials.count(local_catalog_need) == 0;

  // --- write ---
  std::string t;
  t += "# bundles/bundle_" + pad(b + 1) + ".flow — " + title + "\n";
  t += "# generated by onevisit-gen-district (seed " + std::to_string(seed) + ")\n";
  t += "# 牵头部门：" +
       (lead >= 0 ? dist.depts[static_cast<std::size_t>(lead)].title : std::string("无")) +
       "；涉及部门 " + std::to_string(item_depts.size() + (local != nullptr ? 1 : 0)) +
       " 个；事项 " + std::to_string(uses.size() + static_cast<std::size_t>(n_local)) +
       " 项（其中即办件 " + std::to_string(n_immediate) + " 项）\n";
  t += "# 材料：分别办理需提交 " + std::to_string(separate_submissions + local_submissions) +
       " 份，一件事一次提交 " +
       std::to_string(
           static_cast<int>(distinct_materials.size()) - exempt + (local != nullptr ? 1 : 0) +
           (local_need_new &&
                    dist.mats[static_cast<std::size_t>(local_catalog_need)].elicense.empty()
                ? 1
                : 0)) +
       " 份（电子证照免提交 " + std::to_string(exempt) + " 份）\n";
  t += "# 时限：分别办理累计 " + halves(separate_days_h) + " 个工作日，一件事承诺 " +
       halves(promise_h) + " 个工作日\n";
  t += "import \"../calendars/district.flow\"\n";
  t += "import \"../lifecycles/standard.flow\"\n";
  for (int d : imports) t += "import \"../catalog/dept_" + dept_number(d) + ".flow\"\n";
  t += "\n";
  t += "bundle " + slug + " " + quote(title) + " version " + std::to_string(rng.between(1, 3)) +
       " {\n";
  t += "  promise " + workdays(promise_h) + "\n";
  t += "  calendar district\n";
  t += "  lifecycle standard\n";
  if (lead >= 0) t += "  lead " + dist.depts[static_cast<std::size_t>(lead)].id + "\n";
  t += "\n";
  std::set<int> form_fixed(sent.begin(), sent.end());
  t += field_block(rng, "form", fields, form, form_required, form_fixed, 30);
  t += "\n";
  t += field_block(rng, "situation", sfields, situation, {}, {}, 0);
  const std::size_t split = local_text.find('\x01');
  const std::string local_decls =
      split == std::string::npos ? local_text : local_text.substr(0, split);
  const std::string local_items =
      split == std::string::npos ? std::string() : local_text.substr(split + 1);
  if (!local_decls.empty()) t += "\n" + local_decls;
  if (!decisions.empty()) t += "\n" + decisions;
  t += "\n";
  for (const Use& u : uses) {
    const Item& it = dist.items[static_cast<std::size_t>(u.item)];
    t += "  # " + it.title + "｜" + dist.depts[static_cast<std::size_t>(it.dept)].title + "｜" +
         (it.immediate ? std::string("即办") : "承诺 " + halves(it.limit_h) + " 个工作日") +
         (it.stat_h > 0 ? "（法定 " + halves(it.stat_h) + " 个工作日）" : std::string()) + "\n";
    std::string line = "  use " + it.id;
    if (!u.alias.empty()) line += " as " + u.alias;
    if (!u.after.empty()) line += " after " + join(u.after, ", ");
    if (!u.when.empty()) line += " when " + u.when;
    if (u.limit_h >= 0 || u.instant) {
      line += " {\n";
      if (u.limit_h >= 0) line += "    limit " + workdays(u.limit_h) + "\n";
      if (u.instant) line += "    lifecycle instant\n";
      line += "  }";
    }
    t += line + "\n";
  }
  if (!local_items.empty()) t += "\n  # 本一件事特有的事项\n" + local_items;
  t += "\n";
  t += "  stages intake -> items -> delivery -> rating\n";
  t += "  rating {\n";
  t += "    bad at most 2\n";
  t += "    rectify within " + workdays(rng.chance(75) ? 30 : 20) + "\n";
  t += "  }\n";
  t += "}\n";
  return t;
}

}  // namespace

std::vector<GeneratedFile> generate_district(const DistrictOptions& options) {
  const District dist = build_district(options);
  std::vector<GeneratedFile> files;
  files.push_back({"calendars/district.flow", calendar_text(options.seed)});
  files.push_back({"lifecycles/standard.flow", lifecycle_text(options.seed)});
  for (int d = 0; d < static_cast<int>(dist.depts.size()); ++d)
    files.push_back(
        {"catalog/dept_" + dept_number(d) + ".flow", catalog_text(dist, d, options.seed)});
  for (int b = 0; b < std::max(0, options.bundles); ++b)
    files.push_back({"bundles/bundle_" + pad(b + 1) + ".flow", bundle_text(dist, b, options.seed)});
  return files;
}

}  // namespace onevisit::bench
