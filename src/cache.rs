//! The object cache: compiled functions' object files in a directory, addressed by
//! a hash of everything that went into them (`Key`), so a restarted process links
//! what an earlier one compiled instead of compiling it again.
//!
//! Layout: `DIR/v1/ab/cdef…` holds the entry of key `abcdef…`. An entry is a
//! header (magic, key, the payload's SHA-256 and length) and the object's bytes.
//! Rules that let several processes share a directory at once:
//! - an entry is written to a temporary file beside it and renamed into place, so
//!   a reader sees a whole entry or none, and a file someone reads is never
//!   written (a rename replaces the name, not the file);
//! - entries are read whole into memory (never mapped), and checked: a missing,
//!   truncated, corrupt or foreign file is a miss, and the compile that follows
//!   replaces it;
//! - each read sets the entry's modification time, which eviction takes as its
//!   last use: past the size cap, the least recently used entries go first.
//!
//! Nothing here fails a compile: an I/O error is a miss or an entry not written.

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

/// Where entries of this format live under the cache directory; a new format
/// gets a new one, so old and new builds never read each other's files.
const FORMAT_DIR: &str = "v1";
const MAGIC: &[u8; 8] = b"OREOBJ01";
const HEADER: usize = MAGIC.len() + 32 + 32 + 8;
/// A temporary file older than this was left by a process that died mid-write.
const STALE_TEMP: Duration = Duration::from_secs(600);

/// The default size cap.
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;

/// The environment variable that gives `ore` commands a cache directory.
pub const DIR_VARIABLE: &str = "ORE_CACHE_DIR";

/// A cache key: the SHA-256 of what an object depends on, fed in by parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key([u8; 32]);

/// Builds a `Key`. Each part is written with its length, so no two sequences of
/// parts hash alike.
#[derive(Clone, Default)]
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    /// Adds one part.
    pub fn part(mut self, bytes: impl AsRef<[u8]>) -> KeyBuilder {
        let bytes = bytes.as_ref();
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The key.
    pub fn finish(self) -> Key {
        Key(self.0.finalize().into())
    }
}

impl Key {
    /// Lower-case hex, as entry file names spell it.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a cache directory holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Entries (compiled functions).
    pub entries: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// An entry file found by a scan: its path, size and last use.
struct Found {
    path: PathBuf,
    len: u64,
    used: SystemTime,
}

/// A cache directory, opened by one process (others may share it).
pub struct ObjectCache {
    dir: PathBuf,
    max_bytes: u64,
    /// What the directory held at the last scan plus what this process wrote
    /// since; `None` until the first write scans it.
    size: Mutex<Option<u64>>,
    /// Numbers this process's temporary files.
    next_temp: AtomicU64,
}

impl ObjectCache {
    /// Opens (creating it if needed) the cache in `dir`, holding at most about
    /// `max_bytes`.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<ObjectCache> {
        fs::create_dir_all(dir.join(FORMAT_DIR))?;
        Ok(ObjectCache { dir: dir.to_path_buf(), max_bytes, size: Mutex::new(None), next_temp: AtomicU64::new(0) })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &Key) -> PathBuf {
        let hex = key.hex();
        self.dir.join(FORMAT_DIR).join(&hex[..2]).join(&hex[2..])
    }

    /// The object stored under `key`, if there is a whole, uncorrupted entry for it.
    pub fn get(&self, key: &Key) -> Option<Vec<u8>> {
        let path = self.path(key);
        let mut bytes = fs::read(&path).ok()?;
        if !valid(&bytes, key) {
            tracing::debug!(path = %path.display(), "cache entry is damaged or foreign: a miss");
            return None;
        }
        // Its last use, for eviction; a failure only makes it look older.
        if let Ok(file) = fs::File::options().append(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        bytes.drain(..HEADER);
        Some(bytes)
    }

    /// Stores `object` under `key`, replacing any entry there; evicts the least
    /// recently used entries if that takes the directory past its cap.
    pub fn put(&self, key: &Key, object: &[u8]) -> io::Result<()> {
        let path = self.path(key);
        let parent = path.parent().expect("entries are in a subdirectory");
        fs::create_dir_all(parent)?;
        let temp = parent.join(format!("{}.tmp.{}.{}", key.hex(), std::process::id(), self.next_temp.fetch_add(1, Relaxed)));
        let mut entry = Vec::with_capacity(HEADER + object.len());
        entry.extend_from_slice(MAGIC);
        entry.extend_from_slice(&key.0);
        entry.extend_from_slice(&Sha256::digest(object));
        entry.extend_from_slice(&(object.len() as u64).to_le_bytes());
        entry.extend_from_slice(object);
        let written = fs::write(&temp, &entry).and_then(|()| fs::rename(&temp, &path));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
            return written;
        }
        let mut size = self.size.lock();
        let total = match *size {
            Some(total) => total + entry.len() as u64,
            None => self.scan()?.1.bytes,
        };
        *size = Some(if total > self.max_bytes { self.evict()? } else { total });
        Ok(())
    }

    /// Every entry and their totals; removes temporary
    /// files that a dead writer left behind.
    fn scan(&self) -> io::Result<(Vec<Found>, CacheStats)> {
        let mut entries = Vec::new();
        let mut stats = CacheStats::default();
        let now = SystemTime::now();
        for fan in fs::read_dir(self.dir.join(FORMAT_DIR))? {
            let Ok(files) = fs::read_dir(fan?.path()) else { continue };
            for file in files {
                let file = file?;
                // Another process may remove it meanwhile: skip what vanished.
                let Ok(meta) = file.metadata() else { continue };
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if file.file_name().to_string_lossy().contains(".tmp.") {
                    if now.duration_since(modified).unwrap_or_default() > STALE_TEMP {
                        let _ = fs::remove_file(file.path());
                    }
                    continue;
                }
                stats.entries += 1;
                stats.bytes += meta.len();
                entries.push(Found { path: file.path(), len: meta.len(), used: modified });
            }
        }
        Ok((entries, stats))
    }

    /// Removes least recently used entries until the directory holds at most 3/4 of
    /// its cap (so that eviction does not run at every write); returns what is left.
    fn evict(&self) -> io::Result<u64> {
        let (mut entries, stats) = self.scan()?;
        entries.sort_by_key(|found| found.used);
        let mut total = stats.bytes;
        let target = self.max_bytes / 4 * 3;
        for found in entries {
            if total <= target {
                break;
            }
            if fs::remove_file(&found.path).is_ok() {
                total -= found.len;
            }
        }
        tracing::debug!(dir = %self.dir.display(), bytes = total, "cache evicted");
        Ok(total)
    }

    /// What the directory holds now.
    pub fn stats(&self) -> io::Result<CacheStats> {
        Ok(self.scan()?.1)
    }

    /// Removes every entry; returns what there was.
    pub fn clear(&self) -> io::Result<CacheStats> {
        let stats = self.stats()?;
        fs::remove_dir_all(self.dir.join(FORMAT_DIR))?;
        fs::create_dir_all(self.dir.join(FORMAT_DIR))?;
        *self.size.lock() = Some(0);
        Ok(stats)
    }
}

/// Whether `entry` is a whole entry for `key` whose payload is what was written.
fn valid(entry: &[u8], key: &Key) -> bool {
    if entry.len() < HEADER || &entry[..8] != MAGIC || entry[8..40] != key.0 {
        return false;
    }
    let len = u64::from_le_bytes(entry[72..80].try_into().expect("8 bytes"));
    let payload = &entry[HEADER..];
    len == payload.len() as u64 && Sha256::digest(payload)[..] == entry[40..72]
}

/// Parses a size such as `4096`, `64K`, `512M` or `2G` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.as_bytes().last().map(u8::to_ascii_uppercase) {
        Some(b'K') => (&text[..text.len() - 1], 10),
        Some(b'M') => (&text[..text.len() - 1], 20),
        Some(b'G') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a size (such as 4096, 64K, 512M or 2G)"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        KeyBuilder::default().part([n]).finish()
    }

    #[test]
    fn an_entry_reads_back_and_a_missing_one_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ObjectCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
        assert_eq!(cache.get(&key(1)), None);
        cache.put(&key(1), b"object one").unwrap();
        assert_eq!(cache.get(&key(1)).as_deref(), Some(&b"object one"[..]));
        assert_eq!(cache.get(&key(2)), None);
        assert_eq!(cache.stats().unwrap(), CacheStats { entries: 1, bytes: (HEADER + 10) as u64 });
    }

    #[test]
    fn damaged_and_foreign_entries_are_misses_that_a_put_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ObjectCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
        cache.put(&key(1), b"object one").unwrap();
        let path = cache.path(&key(1));
        let whole = fs::read(&path).unwrap();
        let mut flipped = whole.clone();
        *flipped.last_mut().unwrap() ^= 1;
        cache.put(&key(2), b"object two").unwrap();
        let foreign = fs::read(cache.path(&key(2))).unwrap();
        for damaged in [&whole[..whole.len() - 1], &whole[..10], &[][..], &flipped[..], &foreign[..], b"not an entry at all"] {
            fs::write(&path, damaged).unwrap();
            assert_eq!(cache.get(&key(1)), None, "{damaged:?}");
        }
        cache.put(&key(1), b"object one").unwrap();
        assert_eq!(cache.get(&key(1)).as_deref(), Some(&b"object one"[..]));
    }

    #[test]
    fn past_the_cap_the_least_recently_used_entries_go() {
        let dir = tempfile::tempdir().unwrap();
        let entry = (HEADER + 1000) as u64;
        let cache = ObjectCache::open(dir.path(), 4 * entry).unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        for n in 0..4 {
            cache.put(&key(n), &[n; 1000]).unwrap();
            // Entry n was last used n seconds after `old`.
            let file = fs::File::options().append(true).open(cache.path(&key(n))).unwrap();
            file.set_modified(old + Duration::from_secs(n as u64)).unwrap();
        }
        // Reading 0 makes it the most recently used: 1 and 2 are the oldest now.
        assert!(cache.get(&key(0)).is_some());
        cache.put(&key(4), &[4; 1000]).unwrap();
        let kept: Vec<u8> = (0..5).filter(|n| cache.get(&key(*n)).is_some()).collect();
        assert_eq!(kept, [0, 3, 4]);
        assert_eq!(cache.stats().unwrap(), CacheStats { entries: 3, bytes: 3 * entry });
    }

    #[test]
    fn clear_removes_everything_and_a_stale_temporary_file_goes_at_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ObjectCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
        cache.put(&key(1), b"one").unwrap();
        cache.put(&key(2), b"two").unwrap();
        let temp = cache.path(&key(3)).with_extension("tmp.1.1");
        fs::create_dir_all(temp.parent().unwrap()).unwrap();
        fs::write(&temp, b"half").unwrap();
        fs::File::options().append(true).open(&temp).unwrap().set_modified(SystemTime::now() - 2 * STALE_TEMP).unwrap();
        assert_eq!(cache.stats().unwrap().entries, 2);
        assert!(!temp.exists());
        assert_eq!(cache.clear().unwrap().entries, 2);
        assert_eq!(cache.stats().unwrap(), CacheStats::default());
        assert_eq!(cache.get(&key(1)), None);
    }

    #[test]
    fn keys_differ_by_every_part_and_by_where_parts_split() {
        let base = || KeyBuilder::default().part("a").part("bc");
        assert_eq!(base().finish(), base().finish());
        assert_ne!(base().finish(), KeyBuilder::default().part("ab").part("c").finish());
        assert_ne!(base().finish(), base().part("").finish());
        assert_ne!(base().finish(), KeyBuilder::default().part("a").part("bd").finish());
    }

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(parse_size("99999999999999G").unwrap_err().contains("too large"));
    }
}
