// Package files moves bundles across the air gap as files: one bundle is one
// "*.icebox" file. It owns atomic writes (temp file in the same directory,
// fsync, rename, fsync of the directory), the daemon's inbox watcher and the
// outbox naming.
//
// Inbox contract: a file is returned only after its size and modification
// time were identical on two consecutive polls; names starting with "." or
// ending in ".tmp" or ".part", and names not ending in ".icebox", are never
// read. Reading is capped. A file that cannot be taken whole comes back as an
// Item with Err set (and no Data) so the caller can refuse it and archive it
// with Done like any other input. Polling needs no inotify; the archive must
// be on the same filesystem as the inbox.
//
// Outbox contract: names are derived from untrusted request ids with
// SafeName, which never yields a path separator, a leading dot or "..", and
// keeps distinct ids distinct.
//
// It imports only the standard library and bundle.
package files
