// Phase 7 of a rebuild, the replay (docs/design.md §3, §4): batches read ahead on another
// thread and applied by the dispatcher, in epochs.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/rebuild/engine.h"
#include "spdlog/spdlog.h"
#include "storage/parallel_reader.h"

namespace protean_admin::rebuild {

using storage::PgConnection;

absl::Status Engine::Replay() {
  EmitPhase(Phase::kReplay);
  EmitProgress();
  ASSIGN_OR_RETURN(std::unique_ptr<storage::MessageSource> source, OpenReplaySource());
  cursor_.assign(heads_.size(), 0);
  const bool inplace = options_.strategy == Strategy::kInplace;
  if (!inplace) RETURN_IF_ERROR(BeginEpoch());
  // The next batch is read on another thread while this one is applied.
  storage::MessagePrefetcher batches(std::move(source), options_.batch_size);
  RETURN_IF_ERROR(ReadBatches(batches));
  if (!total_exact_) {
    // The estimate is replaced by the count of what was replayed.
    total_ = processed_;
    total_exact_ = true;
    EmitProgress();
  }
  if (inplace) return absl::OkStatus();
  RETURN_IF_ERROR(EndEpoch());
  return shadow() ? CommitShadowEpoch(/*begin_next=*/false) : absl::OkStatus();
}

// One COPY stream over all categories, in global_position order, on its own connection (the
// server produces the next rows while this process applies the current ones); on a history
// long enough, the same spread over options_.read_connections connections
// (storage/parallel_reader.h).
absl::StatusOr<std::unique_ptr<storage::MessageSource>> Engine::OpenReplaySource() {
  int64_t head = 0;
  for (const storage::CategoryHead& h : heads_) head = std::max(head, h.head);
  const storage::ParallelReadOptions read{options_.batch_size, {plan_.reads_time, plan_.reads_id}};
  const int lanes =
      head >= 2 * read.min_chunk_positions ? std::max(1, options_.read_connections) : 1;
  std::vector<PgConnection> connections;
  for (int i = 0; i < lanes; ++i) {
    ASSIGN_OR_RETURN(PgConnection conn,
                     ConnectNoted(domain_.event_store.database_uri, domain_.event_store.uri_note));
    RETURN_IF_ERROR(storage::PrepareEventStoreConnection(conn));
    connections.push_back(std::move(conn));
  }
  if (lanes > 1) {
    return std::make_unique<storage::ParallelReader>(std::move(connections), heads_, read);
  }
  std::vector<storage::CategoryReader> readers;
  readers.push_back(storage::CategoryReader::Streaming(std::move(connections[0]), heads_,
                                                       options_.batch_size, read.columns));
  return std::make_unique<storage::MessageMerger>(std::move(readers));
}

// The main pass: transactions (in place: one per batch; shadow: one per epoch, and SQL-form
// epochs last one batch), epochs, cancellation, progress.
absl::Status Engine::ReadBatches(storage::MessagePrefetcher& batches) {
  const bool inplace = options_.strategy == Strategy::kInplace;
  while (true) {
    RETURN_IF_ERROR(Cancelled());
    ASSIGN_OR_RETURN(const std::vector<storage::MessageRef>& batch, batches.Next());
    if (batch.empty()) return absl::OkStatus();
    if (inplace) {
      RETURN_IF_ERROR(Exec("BEGIN"));
      in_transaction_ = true;
      RETURN_IF_ERROR(BeginEpoch());
    }
    RETURN_IF_ERROR(ApplyBatch(batch));
    const bool cache_full = static_cast<int64_t>(cache_->memory_bytes()) > options_.row_cache_bytes;
    if (cache_full) ReportCacheFull();
    if (inplace || dispatcher_->fallback_requested() || cache_full ||
        (plan_.has_sql && (shadow() || processed_ - epoch_processed_ >= sql_epoch_events_))) {
      RETURN_IF_ERROR(EndEpoch());
      if (shadow()) RETURN_IF_ERROR(CommitShadowEpoch(/*begin_next=*/true));
      if (!inplace) RETURN_IF_ERROR(BeginEpoch());
    }
    if (inplace) {
      in_transaction_ = false;
      RETURN_IF_ERROR(Exec("COMMIT"));
    }
    EmitProgress();
    RETURN_IF_ERROR(CheckSkipped());
  }
}

// A failure the dispatcher asks to cure by replaying the epoch is left to EndEpoch.
// A batch is applied in slices of at most options_.apply_slice_events: a slice's payloads and items
// stay in the CPU caches while they are folded (a batch of 5000 in one piece cost ~15% more
// CPU than ten of 500, bench/README.md). The batch still bounds transactions and epochs; a
// failing slice ends the batch as a failing batch did.
absl::Status Engine::ApplyBatch(const std::vector<storage::MessageRef>& batch) {
  const size_t slice_events = static_cast<size_t>(std::max(1, options_.apply_slice_events));
  absl::Status s;
  if (batch.size() <= slice_events) {
    s = dispatcher_->Apply(batch, /*isolated=*/false);
  } else {
    std::vector<storage::MessageRef> slice;
    for (size_t begin = 0; begin < batch.size() && s.ok(); begin += slice_events) {
      const size_t end = std::min(batch.size(), begin + slice_events);
      slice.assign(batch.begin() + static_cast<std::ptrdiff_t>(begin),
                   batch.begin() + static_cast<std::ptrdiff_t>(end));
      s = dispatcher_->Apply(slice, /*isolated=*/false);
    }
  }
  if (!s.ok() && !dispatcher_->fallback_requested()) return s;
  for (const storage::MessageRef& m : batch) cursor_[m.source] = m.GlobalPosition();
  processed_ += static_cast<int64_t>(batch.size());
  return absl::OkStatus();
}

void Engine::ReportCacheFull() {
  if (cache_full_reported_) return;
  cache_full_reported_ = true;
  spdlog::info(
      "Rebuild of {}: the row cache ({} MiB) is full at {} rows after {} events; rows are "
      "written and fetched back from now on (more memory for it would be faster)",
      projection_.name, options_.row_cache_bytes >> 20, cache_->size(), processed_);
}

absl::Status Engine::BeginEpoch() {
  epoch_cursor_ = cursor_;
  epoch_processed_ = processed_;
  epoch_tally_ = dispatcher_->tally();
  dispatcher_->BeginEpoch();
  // Each epoch is a subtransaction, and rows updated under many of them cost PostgreSQL
  // MultiXact lookups: SQL-form epochs double in size (a failure's replay stays at most the
  // size of the work done so far).
  sql_epoch_events_ = sql_epoch_events_ == 0
                          ? options_.sql_epoch_events
                          : std::min<int64_t>(2 * sql_epoch_events_, int64_t{1} << 40);
  return Exec("SAVEPOINT pa_epoch");
}

// Writes the held rows, falling back to replaying the epoch when that (or an earlier step of
// the epoch) failed, then releases the epoch's savepoint.
absl::Status Engine::EndEpoch() {
  if (dispatcher_->fallback_requested()) {
    RETURN_IF_ERROR(ReplayEpoch());
  } else if (absl::Status s = cache_->Flush(); !s.ok()) {
    if (dispatcher_->Fatal(s)) return s;
    spdlog::warn(
        "Rebuild of {}: writing folded rows failed ({}); replaying the last events one batch at "
        "a time",
        projection_.name, std::string(s.message()));
    RETURN_IF_ERROR(ReplayEpoch());
  }
  return Exec("RELEASE SAVEPOINT pa_epoch");
}

// Rolls the epoch back and applies its events again from the store, isolated.
absl::Status Engine::ReplayEpoch() {
  dispatcher_->clear_fallback();
  RETURN_IF_ERROR(Exec("ROLLBACK TO SAVEPOINT pa_epoch"));
  cache_->Clear();
  dispatcher_->tally() = epoch_tally_;
  if (!replay_reader_) {
    ASSIGN_OR_RETURN(PgConnection conn,
                     ConnectNoted(domain_.event_store.database_uri, domain_.event_store.uri_note));
    replay_reader_.emplace(std::move(conn));
    RETURN_IF_ERROR(storage::PrepareEventStoreConnection(*replay_reader_));
  }
  std::vector<storage::CategoryReader> readers;
  const storage::ReadColumns columns{plan_.reads_time, plan_.reads_id};
  for (size_t c = 0; c < heads_.size(); ++c) {
    readers.emplace_back(&*replay_reader_, heads_[c].category, cursor_[c], options_.batch_size,
                         columns, epoch_cursor_[c]);
  }
  storage::MessagePrefetcher batches(storage::MessageMerger(std::move(readers)),
                                     options_.batch_size);
  while (true) {
    ASSIGN_OR_RETURN(const std::vector<storage::MessageRef>& batch, batches.Next());
    if (batch.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(dispatcher_->Apply(batch, /*isolated=*/true));
  }
}

// --max-skipped: more skipped events end the replay (Finish rolls back or reports a partial
// projection).
absl::Status Engine::CheckSkipped() {
  const int64_t skipped = dispatcher_->tally().skipped;
  if (options_.max_skipped < 0 || skipped <= options_.max_skipped) return absl::OkStatus();
  too_many_skipped_ = true;
  return absl::FailedPreconditionError(absl::StrCat(skipped, " events skipped, more than the ",
                                                    options_.max_skipped,
                                                    " allowed (--max-skipped)"));
}

}  // namespace protean_admin::rebuild
