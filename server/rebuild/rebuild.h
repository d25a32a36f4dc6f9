#ifndef PROTEAN_ADMIN_SERVER_REBUILD_REBUILD_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_REBUILD_H_

// The rebuild engine (docs/design.md §3): plan -> guard -> snapshot -> truncate -> replay ->
// hand-off -> result. No gRPC types here; the service layer adapts these to the contract.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/batch_size.h"
#include "domain/model.h"

namespace protean_admin::rebuild {

// kShadow (docs/design.md §4): built into a shadow table while the event server runs, then,
// once it is stopped, caught up and swapped into the live table in one short transaction.
// Database-backed projections only.
enum class Strategy { kAtomic, kInplace, kShadow };

// kWaiting, kCatchUp and kSwap are the shadow strategy's: the shadow is built up to the first
// snapshot, the engine waits for the event server to stop, catches the shadow up to the new
// head and swaps it into place.
enum class Phase {
  kPlanning,
  kGuard,
  kSnapshot,
  kTruncate,
  kReplay,
  kHandOff,
  kCommit,
  kDone,
  kWaiting,
  kCatchUp,
  kSwap,
};

std::string_view PhaseName(Phase phase);

// Skipped events of one kind: the same projector, stored event type and reason.
struct SkipReason {
  std::string projector;   // empty for events whose type cannot be resolved
  std::string event_type;  // the stored type string, e.g. "Test.Transacted.v1"
  std::string reason;
  int64_t count = 0;
  std::vector<int64_t> first_positions;  // global positions of the first few (at most 5)
};

// Protean's RebuildResult (docs/design.md §9), plus `partial`, why events were
// skipped and warnings.
struct RebuildResult {
  std::string projection_name;
  int projectors_processed = 0;
  int categories_processed = 0;
  int64_t events_dispatched = 0;
  int64_t events_skipped = 0;
  // SQL form: events whose statements ran set-based (sql_waves.h); the others ran one by one.
  int64_t sql_set_based_events = 0;
  // SQL-form events whose handler ran in memory, folded like the action form (sql_lowering.h).
  int64_t sql_in_memory_events = 0;
  std::vector<std::string> errors;
  // An in-place rebuild that failed or was cancelled after its truncation was committed left
  // a partial projection (errors say how it ended).
  bool partial = false;
  int64_t duration_ms = 0;
  // Skips grouped by projector, type and reason, in order of first occurrence (at most 50
  // groups; the last one then gathers the rest as "(other reasons)").
  std::vector<SkipReason> skip_reasons;
  // What the operator must see although it does not fail the rebuild, e.g. a projector
  // whose every handled event failed.
  std::vector<std::string> warnings;
  // One line per projector on Redis stream subscriptions: no Message DB position was
  // handed off for it (empty when the hand-off is skipped).
  std::vector<std::string> hand_off_notes;

  bool success() const { return errors.empty(); }
};

// What the engine reports while it works. Called on the rebuild's thread; must be cheap.
struct ProgressEvent {
  enum class Kind { kPhase, kProgress, kWarning };
  Kind kind = Kind::kProgress;
  std::string projection;
  Phase phase = Phase::kPlanning;  // kPhase
  std::string projector;           // kProgress: projector of the latest event
  int64_t processed = 0;           // kProgress: events read so far
  int64_t total = 0;               // kProgress: events up to the head snapshot
  int64_t skipped = 0;             // kProgress
  std::string message;             // kWarning
  // kPhase kWaiting: when the wait began (milliseconds since the Unix epoch).
  int64_t since_unix_ms = 0;
};

// Set from any thread; the engine checks it between batches and then ends with
// absl::CancelledError (rolling back under the atomic strategy), or, in place once the
// truncation is committed, with a partial result.
class CancellationToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

struct RebuildOptions {
  // Events per batch; must be > 0 (InvalidArgument otherwise, before anything). Memory stays
  // bounded whatever it is: a batch also ends early, at storage::kMaxBatchBytes
  // (storage/message_prefetcher.h). The daemon accepts at most kMaxBatchSize
  // (proto/request_limits.h).
  int batch_size = kDefaultBatchSize;
  Strategy strategy = Strategy::kAtomic;
  // Write subscription positions for projectors that declare `subscriber`.
  bool hand_off = true;
  // Called after the projection lock is taken and before truncation; a non-OK status
  // aborts the rebuild untouched (the event-server guard lives in the service layer). Under
  // kShadow it is not called then but polled in the waiting phase instead, every
  // `wait_poll_interval`, until it returns OK (the event server is stopped).
  std::function<absl::Status(const domain::Domain&, const domain::Projection&)> guard;
  // kShadow: how long to wait for the event server to stop once the shadow is built; past it
  // the shadow is dropped and the rebuild ends DeadlineExceeded. Zero: no limit.
  std::chrono::milliseconds wait_timeout{0};
  std::chrono::milliseconds wait_poll_interval{500};
  std::function<void(const ProgressEvent&)> on_progress;
  const CancellationToken* cancel = nullptr;
  // Action form: memory for the projection's rows held across batches (RowCache); when
  // they outgrow it they are written and forgotten. Bounds the engine's memory independently
  // of the history; a projection whose rows all fit is written once, at the end.
  int64_t row_cache_bytes = int64_t{64} << 20;
  // SQL form: statements run without a savepoint of their own; a failing one rolls back to
  // the start of its epoch, whose events are then replayed with per-event isolation. The
  // first epoch ends after this many events, and each next one is twice as long (fewer
  // subtransactions; a failure's replay is bounded by the work done so far).
  int64_t sql_epoch_events = 50000;
  // Events dispatched at once: a larger batch is applied in slices of this many, so that the
  // batch size (Protean's page size) costs nothing (engine_replay.cc ApplyBatch).
  int apply_slice_events = 512;
  // Connections reading the history at once (storage/parallel_reader.h): one COPY keeps one
  // PostgreSQL backend busy, which sets the pace on a long history. 1: one stream.
  int read_connections = 2;
  // SQL form: statements of the shape sql_waves.h recognizes run set-based, in waves (false:
  // every statement runs once per event; for comparisons and tests).
  bool sql_set_based = true;
  // SQL form: handlers of the shape sql_lowering.h recognizes run as the action form, folded
  // in memory (false: they run as SQL, set-based or per event; for comparisons and tests).
  bool sql_in_memory = true;
  // More skipped events than this fail the rebuild: atomic rolls back; in place stops,
  // leaving a partial projection. The result carries the error and the skip reasons.
  // Negative: no limit (Protean's behaviour).
  int64_t max_skipped = -1;
};

// Rebuilds one projection. Errors (as status): NotFound "Projection 'X' not found",
// InvalidArgument (batch size; kShadow for a cache-backed projection), DeadlineExceeded
// (kShadow: the event server did not stop within wait_timeout), Aborted (already being rebuilt: the
// lock on its table or cache keys is held, see projection_lock.h), FailedPrecondition (guard
// refused, table missing without columns), Unavailable (database unreachable or lost), Cancelled. A
// projection without projectors is a result with one error, not a status; so is an in-place
// rebuild that failed or was cancelled after its truncation (`partial`).
absl::StatusOr<RebuildResult> RebuildProjection(const domain::Domain& domain,
                                                std::string_view projection_name,
                                                const RebuildOptions& options);

// Rebuilds every projection in declaration order, each independently: a projection whose
// rebuild fails with any status but Cancelled gets a result carrying the status message as
// its error, and the next one runs. kShadow is InvalidArgument (one wait for the event server
// per projection would stop it for every projection after the first: rebuild them one by one).
// `on_result`, when set, is called with each result as soon as it exists. Errors: InvalidArgument
// (batch size, before anything), Cancelled (ends the run; the results so far were passed to
// on_result).
absl::StatusOr<std::vector<RebuildResult>> RebuildAllProjections(
    const domain::Domain& domain, const RebuildOptions& options,
    const std::function<void(const RebuildResult&)>& on_result = nullptr);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_REBUILD_H_
