#ifndef PROTEAN_ADMIN_STORAGE_PG_PIPELINE_H_
#define PROTEAN_ADMIN_STORAGE_PG_PIPELINE_H_

// Runs many prepared statements in libpq pipeline mode: few round trips for many
// statements, with the status of each one.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/pg_connection.h"

namespace protean_admin::storage {

struct PipelineCommand {
  std::string statement;  // prepared statement name
  std::vector<PgParam> params;
};

// Sends `commands` in pipeline mode (in chunks, one sync point per chunk) and returns one
// status per command. After the first failing command the others are not run (their status
// is Aborted "not run: an earlier statement failed"). The outer status is an error only when
// the connection is lost or the pipeline cannot be used.
absl::StatusOr<std::vector<absl::Status>> RunPipeline(PgConnection& conn,
                                                      const std::vector<PipelineCommand>& commands,
                                                      size_t chunk_size = 256);

// The index of the first failed status, or -1.
int FirstFailure(const std::vector<absl::Status>& statuses);

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_PG_PIPELINE_H_
