#include <onevisit/adapters/xml_exchange.hpp>

#include <pugixml.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace onevisit::adapters {

namespace fs = std::filesystem;

std::string exchange_file_name(std::string_view key) {
  std::string out;
  for (const char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
  return out;
}

ExchangeFolders ExchangeFolders::under(const fs::path& root) {
  return ExchangeFolders{root / "out", root / "in", root / "processed", root / "quarantine"};
}

namespace {


// Writes `text` to `path` through a hidden temporary file in the same folder, fsynced, then
// renamed: readers see the whole file or none.
std::optional<std::string> write_atomically(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return "cannot create " + path.parent_path().string() + ": " + ec.message();
  const fs::path temporary = path.parent_path() / ("." + path.filename().string() + ".tmp");
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot write " + temporary.string();
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      ::close(fd);
      ::unlink(temporary.c_str());
      return "cannot write " + temporary.string();
    }
    written += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    ::unlink(temporary.c_str());
    return "cannot flush " + temporary.string();
  }
  fs::rename(temporary, path, ec);
  if (ec) {
    fs::remove(temporary, ec);
    return "cannot rename into " + path.string();
  }
  return std::nullopt;
}

// Moves a file into `folder`, keeping its name unique there.
fs::path move_into(const fs::path& file, const fs::path& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  fs::path target = folder / file.filename();
  for (int n = 1; fs::exists(target, ec); ++n) target = folder / (file.stem().string() + "." + std::to_string(n) + file.extension().string());
  fs::rename(file, target, ec);
  return ec ? file : target;
}

}  // namespace

XmlExchangeAdapter::XmlExchangeAdapter(ExchangeFolders folders, std::string node_name)
    : folders_(std::move(folders)), node_(std::move(node_name)) {}

fs::path XmlExchangeAdapter::request_path(const AdapterCall& call) const {
  return folders_.outbound / (exchange_file_name(call.idempotency_key) + ".xml");
}

AdapterResult XmlExchangeAdapter::submit(const AdapterCall& call) {
  pugi::xml_document doc;
  auto declaration = doc.append_child(pugi::node_declaration);
  declaration.append_attribute("version") = "1.0";
  declaration.append_attribute("encoding") = "UTF-8";
  auto envelope = doc.append_child("envelope");
  envelope.append_attribute("version") = "1";
  envelope.append_attribute("msgId") = call.idempotency_key.c_str();
  envelope.append_attribute("bizType") = call.operation.c_str();
  envelope.append_attribute("fromNode") = node_.c_str();
  envelope.append_attribute("toNode") = call.department.c_str();
  auto request = envelope.append_child("request");
  request.append_attribute("caseNo") = call.case_id.c_str();
  request.append_attribute("operation") = call.operation.c_str();
  request.append_attribute("attempt") = call.attempt;
  request.append_child("payload").append_child(pugi::node_pcdata).set_value(call.payload.c_str());
  std::ostringstream text;
  doc.save(text, "  ", pugi::format_default, pugi::encoding_utf8);
  if (auto failure = write_atomically(request_path(call), text.str())) return {AdapterResult::Status::retry, *failure};
  return {AdapterResult::Status::delivered, "written to " + request_path(call).string()};
}

ReceiptReader::ReceiptReader(ExchangeFolders folders, std::size_t max_file_bytes)
    : folders_(std::move(folders)), max_file_bytes_(max_file_bytes) {}

std::expected<Receipt, std::string> ReceiptReader::parse(std::string_view xml) {
  pugi::xml_document doc;
  const auto parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) return std::unexpected("not well-formed XML at byte " + std::to_string(parsed.offset) + ": " + parsed.description());
  const auto envelope = doc.child("envelope");
  if (!envelope) return std::unexpected(std::string("the root element must be <envelope>"));
  if (std::string_view(envelope.attribute("version").value()) != "1") return std::unexpected(std::string("unknown envelope version (expected 1)"));
  const auto result = envelope.child("result");
  if (!result) return std::unexpected(std::string("<envelope> has no <result>"));
  Receipt r;
  r.request_id = result.attribute("requestId").value();
  r.case_id = result.attribute("caseNo").value();
  r.item = result.attribute("itemCode").value();
  r.from = envelope.attribute("fromNode").value();
  if (r.request_id.empty()) return std::unexpected(std::string("<result> has no requestId"));
  if (r.case_id.empty()) return std::unexpected(std::string("<result> has no caseNo"));
  const auto status = receipt_status(result.attribute("status").value());
  if (!status) {
    return std::unexpected("<result> status '" + std::string(result.attribute("status").value()) +
                           "' is not ACCEPTED, CORRECTION_REQUIRED, APPROVED or REJECTED");
  }
  r.status = *status;
  r.reason = result.child_value("reason");
  if (auto missing = check_receipt_reason(r, "<reason>")) return std::unexpected(*missing);
  for (const auto document : result.children("document")) {
    auto d = receipt_document(document.attribute("material").value(), document.attribute("elicenseId").value(),
                              document.attribute("file").value(), document.child_value());
    if (!d) return std::unexpected(d.error());
    r.documents.push_back(std::move(*d));
  }
  return r;
}

PollResult ReceiptReader::poll(const Handler& handle) {
  PollResult out;
  std::error_code ec;
  if (!fs::is_directory(folders_.inbound, ec)) return out;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folders_.inbound, ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.front() == '.' || !entry.is_regular_file(ec)) continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::string error;
    std::string text;
    const auto size = fs::file_size(file, ec);
    if (ec) continue;  // vanished meanwhile
    if (size > max_file_bytes_) {
      error = "larger than " + std::to_string(max_file_bytes_) + " bytes";
    } else {
      std::ifstream in(file, std::ios::binary);
      std::stringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
    }
    std::expected<Receipt, std::string> receipt = error.empty() ? parse(text) : std::unexpected(error);
    if (!receipt) {
      const auto moved = move_into(file, folders_.quarantine);
      std::ofstream(moved.string() + ".error.txt") << receipt.error() << "\n";
      spdlog::warn("exchange receipt {} quarantined: {}", mask_identifiers(file.filename().string()),
                   mask_identifiers(receipt.error()));
      out.quarantined.push_back({moved, receipt.error()});
      continue;
    }
    receipt->file = file;
    const ReceiptHandling handling = handle ? handle(*receipt) : ReceiptHandling{};
    if (handling.kind == ReceiptHandling::Kind::retry_later) {
      ++out.left_for_later;
      continue;
    }
    if (handling.kind == ReceiptHandling::Kind::refused) {
      const auto moved = move_into(file, folders_.quarantine);
      std::ofstream(moved.string() + ".error.txt") << handling.message << "\n";
      spdlog::warn("exchange receipt {} refused: {}", mask_identifiers(file.filename().string()),
                   mask_identifiers(handling.message));
      out.quarantined.push_back({moved, handling.message});
      continue;
    }
    receipt->file = move_into(file, folders_.processed);
    out.receipts.push_back(std::move(*receipt));
  }
  return out;
}

}  // namespace onevisit::adapters
