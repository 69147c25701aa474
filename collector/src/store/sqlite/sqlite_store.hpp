// The SQLite driver of the SQL store (the default, embedded backend): WAL, schema migrations kept in
// PRAGMA user_version, a disk reserve for when the file system fills up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "store/store.hpp"

namespace waymark::collector {

// How the store lays out, caches and syncs its file (the ingest bench's floor uses the same). A 256 MiB
// page cache holds the node and anchor indexes of about a million customers. Pages of 16 KiB:
// a batch of 500 events is about 200 KiB of pages, and SQLite writes the WAL, and copies it back, a page
// per system call; 4 KiB pages made those calls a quarter of ingest. A store created with other pages
// keeps them (SQLite cannot change the page size of a WAL database). The WAL is copied back every
// 2000 pages (32 MiB): rows that a run of batches touches again (the newest leaves, indexes) are
// copied once per checkpoint, not once per 4 MiB. synchronous=FULL: an acknowledged batch survives
// a power cut. After a checkpoint the WAL file is cut back to 64 MiB: a burst that grew it does not
// keep its space.
inline constexpr const char* kStoragePragmas =
    "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=2000; "
    "PRAGMA cache_size=-262144; PRAGMA journal_size_limit=67108864";

// The schema version (PRAGMA user_version) this build migrates a store to.
int64_t sqlite_store_schema_version();

}  // namespace waymark::collector
