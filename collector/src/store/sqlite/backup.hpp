// Backup and restore of the SQLite store (`waymark-collector backup|restore`, docs/collector.md).
// A backup is a consistent copy taken while the collector serves: SQLite's online backup API, in one
// read transaction, so ingest goes on meanwhile. It holds pseudonyms re-keyed with the collector's
// secret: as sensitive as the store, and useless without the data directory's keys/, which are backed
// up separately and kept apart from it.
#pragma once

#include <string>

#include "status.hpp"

namespace waymark::collector {

// Writes a self-contained copy (one file, mode 0600 under the collector's umask) of the store at
// `db_path` to `out_path`, checked (PRAGMA quick_check) before it is renamed into place. Refuses an
// existing `out_path`.
Status backup_sqlite_store(const std::string& db_path, const std::string& out_path);

// Replaces the store at `db_path` with `backup_path` once it is checked to be an intact Waymark store
// this version can open. The collector must be stopped (the caller holds the data directory's lock).
// The old store's WAL and shared-memory files are removed first, so none of it is applied to the copy.
Status restore_sqlite_store(const std::string& backup_path, const std::string& db_path);

}  // namespace waymark::collector
