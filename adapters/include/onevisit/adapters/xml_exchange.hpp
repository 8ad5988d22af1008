// The front-end exchange server pattern (前置机): requests are written as XML files into a
// department's outbound folder; the department's system answers with receipt files in an
// inbound folder. docs/exchange.md specifies both message formats.
//
// Writing is atomic (a temporary file, fsync, rename): a reader never sees half a file. A
// retried call rewrites the same file name (its idempotency key), so a department picks a
// request up once however often it was sent. Receipts are moved to `processed/` once read;
// malformed ones go to `quarantine/` with a `.error.txt` beside them saying what is wrong,
// and are never half-applied.
//
// Thread safety: one XmlExchangeAdapter per folder set; submit may be called from one
// thread at a time. ReceiptReader is for one thread.
#pragma once

#include <onevisit/adapters/adapter.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace onevisit::adapters {

struct ExchangeFolders {
  std::filesystem::path outbound;    ///< requests for the department
  std::filesystem::path inbound;     ///< receipts from the department
  std::filesystem::path processed;   ///< receipts read
  std::filesystem::path quarantine;  ///< malformed receipts, with the reason
  /// The usual layout below one root: out/, in/, processed/, quarantine/.
  static ExchangeFolders under(const std::filesystem::path& root);
};

class XmlExchangeAdapter final : public Adapter {
 public:
  explicit XmlExchangeAdapter(ExchangeFolders folders, std::string node_name = "onevisit");
  AdapterResult submit(const AdapterCall& call) override;
  /// The file a call is written to (its idempotency key, made safe for a file name).
  std::filesystem::path request_path(const AdapterCall& call) const;

 private:
  ExchangeFolders folders_;
  std::string node_;
};

/// A department's answer to one request.
struct Receipt {
  enum class Status { accepted, correction_required, approved, rejected };
  std::string request_id;  ///< the idempotency key of the request
  std::string case_id;
  std::string item;
  std::string from;        ///< the department's node name
  Status status = Status::accepted;
  std::string reason;
  struct Document {
    std::string material;
    std::string elicense_id;  ///< 电子证照标识, when the result is an e-license
  };
  std::vector<Document> documents;
  std::filesystem::path file;  ///< where it was read from (now in processed/)
};

struct QuarantinedReceipt {
  std::filesystem::path file;  ///< now in quarantine/
  std::string error;
};

struct PollResult {
  std::vector<Receipt> receipts;
  std::vector<QuarantinedReceipt> quarantined;
};

class ReceiptReader {
 public:
  explicit ReceiptReader(ExchangeFolders folders, std::size_t max_file_bytes = 8u << 20);
  /// Reads every receipt file now in the inbound folder, oldest name first. Files whose name
  /// starts with '.' (being written) are left alone.
  PollResult poll();
  /// Parses one receipt document; the error says what is wrong.
  static std::expected<Receipt, std::string> parse(std::string_view xml);

 private:
  ExchangeFolders folders_;
  std::size_t max_file_bytes_;
};

}  // namespace onevisit::adapters
