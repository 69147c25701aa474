/*
 * Waymark SDK — the export macro. Everything the C ABI exports is marked WAYMARK_API; everything else in
 * libwaymark is hidden. Define WAYMARK_API before including the Waymark headers to override it.
 */
#ifndef WAYMARK_EXPORT_H
#define WAYMARK_EXPORT_H

#ifndef WAYMARK_API
#if defined(__GNUC__)
#define WAYMARK_API __attribute__((visibility("default")))
#else
#define WAYMARK_API
#endif
#endif

#endif /* WAYMARK_EXPORT_H */
