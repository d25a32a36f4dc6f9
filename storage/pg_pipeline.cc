#include "storage/pg_pipeline.h"

#include <libpq-fe.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace protean_admin::storage {

absl::StatusOr<std::vector<absl::Status>> RunPipeline(PgConnection& conn,
                                                      const std::vector<PipelineCommand>& commands,
                                                      size_t chunk_size) {
  std::vector<absl::Status> statuses(commands.size(), absl::OkStatus());
  PGconn* pg = conn.get();
  bool failed = false;
  std::vector<const char*> values;
  for (size_t begin = 0; begin < commands.size() && !failed; begin += chunk_size) {
    size_t end = std::min(commands.size(), begin + chunk_size);
    if (PQenterPipelineMode(pg) != 1) {
      return absl::InternalError(absl::StrCat("cannot enter pipeline mode: ", PQerrorMessage(pg)));
    }
    for (size_t i = begin; i < end; ++i) {
      const PipelineCommand& cmd = commands[i];
      values.clear();
      for (const PgParam& p : cmd.params) values.push_back(p ? p->c_str() : nullptr);
      if (PQsendQueryPrepared(pg, cmd.statement.c_str(), static_cast<int>(values.size()),
                              values.data(), nullptr, nullptr, 0) != 1) {
        PQexitPipelineMode(pg);
        return absl::UnavailableError(absl::StrCat("pipeline send failed: ", PQerrorMessage(pg)));
      }
    }
    if (PQpipelineSync(pg) != 1) {
      return absl::UnavailableError(absl::StrCat("pipeline sync failed: ", PQerrorMessage(pg)));
    }
    // One result (then NULL) per command, then the sync result.
    for (size_t i = begin; i < end; ++i) {
      bool got = false;
      while (PGresult* r = PQgetResult(pg)) {
        PgResult owned(r);
        got = true;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_ABORTED) {
          statuses[i] = absl::AbortedError("not run: an earlier statement failed");
        } else {
          absl::Status s = ResultStatus(pg, r, "statement failed");
          if (!s.ok()) {
            if (s.code() == absl::StatusCode::kUnavailable) return s;
            statuses[i] = s;
            failed = true;
          }
        }
      }
      if (!got) {
        if (PQstatus(pg) != CONNECTION_OK) {
          return absl::UnavailableError(absl::StrCat(
              "statement failed: connection to PostgreSQL lost: ", PQerrorMessage(pg)));
        }
      }
    }
    // The sync result.
    for (int nulls = 0;;) {
      PGresult* r = PQgetResult(pg);
      if (r == nullptr) {
        if (PQstatus(pg) != CONNECTION_OK || ++nulls > 3) {
          return absl::UnavailableError(
              absl::StrCat("pipeline failed: connection to PostgreSQL lost: ", PQerrorMessage(pg)));
        }
        continue;
      }
      PgResult owned(r);
      if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) break;
    }
    if (PQexitPipelineMode(pg) != 1) {
      return absl::InternalError(absl::StrCat("cannot leave pipeline mode: ", PQerrorMessage(pg)));
    }
  }
  if (failed) {
    int first = FirstFailure(statuses);
    for (size_t i = first + 1; i < statuses.size(); ++i) {
      if (statuses[i].ok())
        statuses[i] = absl::AbortedError("not run: an earlier statement failed");
    }
  }
  return statuses;
}

int FirstFailure(const std::vector<absl::Status>& statuses) {
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (!statuses[i].ok()) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace protean_admin::storage
