// The gRPC service lands with the daemon issue.
