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
// Thread safety: one XmlExchangeAdapter per folder set; submit may be called from several
// threads at once for different calls (each key has its own files). ReceiptReader is for
// one thread.
#pragma once

#include <onevisit/adapters/adapter.hpp>

#include <filesystem>
#include <functional>
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

struct QuarantinedReceipt {
  std::filesystem::path file;  ///< now in quarantine/
  std::string error;
};

struct PollResult {
  std::vector<Receipt> receipts;  ///< applied (now in processed/)
  std::vector<QuarantinedReceipt> quarantined;
  std::size_t left_for_later = 0;  ///< handler said retry_later
};

/// What became of a receipt handed to the caller of ReceiptReader::poll.
struct ReceiptHandling {
  enum class Kind {
    applied,      ///< done: the file moves to processed/
    retry_later,  ///< a passing failure (e.g. the database is busy): the file stays in in/
    refused,      ///< it can never apply (unknown case, ...): the file moves to quarantine/
  };
  Kind kind = Kind::applied;
  std::string message;
};

class ReceiptReader {
 public:
  explicit ReceiptReader(ExchangeFolders folders, std::size_t max_file_bytes = 8u << 20);
  using Handler = std::function<ReceiptHandling(const Receipt&)>;
  /// Reads every receipt file now in the inbound folder, oldest name first, and hands each
  /// well-formed one to `handle` before moving it: a crash before the receipt is applied
  /// leaves the file to be read again (handling must be idempotent: apply_result is).
  /// Without a handler, every well-formed receipt counts as applied. Files whose name starts
  /// with '.' (being written) are left alone.
  PollResult poll(const Handler& handle = {});
  /// Parses one receipt document; the error says what is wrong.
  static std::expected<Receipt, std::string> parse(std::string_view xml);

 private:
  ExchangeFolders folders_;
  std::size_t max_file_bytes_;
};

}  // namespace onevisit::adapters
