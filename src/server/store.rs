//! `--state FILE`: the modules of every namespace, kept in SQLite so that a restarted
//! server loads them again (lazily: nothing is compiled until called).
//!
//! Rows are replayed in the order they were written. Replacing a module deletes its
//! row and writes a new one, so replaying reproduces which definition of a function
//! won, exactly as it happened.

use parking_lot::Mutex;
use rusqlite::{params, Connection};
use std::path::Path;

/// A module as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredModule {
    pub namespace: String,
    pub name: String,
    pub language: String,
    pub opt_level: Option<u8>,
    pub source: String,
}

pub struct Store {
    db: Mutex<Connection>,
}

pub type StoreError = rusqlite::Error;

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Connection::open(path)?;
        // WAL: a crash loses at most the write in progress, never the file.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS modules (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                namespace TEXT NOT NULL,
                name TEXT NOT NULL,
                language TEXT NOT NULL,
                opt_level INTEGER,
                source TEXT NOT NULL,
                UNIQUE (namespace, name)
            )",
        )?;
        Ok(Store { db: Mutex::new(db) })
    }

    /// Every stored module, oldest first.
    pub fn modules(&self) -> Result<Vec<StoredModule>, StoreError> {
        let db = self.db.lock();
        let mut query = db.prepare("SELECT namespace, name, language, opt_level, source FROM modules ORDER BY seq")?;
        let rows = query.query_map([], |row| {
            Ok(StoredModule {
                namespace: row.get(0)?,
                name: row.get(1)?,
                language: row.get(2)?,
                opt_level: row.get(3)?,
                source: row.get(4)?,
            })
        })?;
        rows.collect()
    }

    /// Stores `module`, replacing the module of the same name.
    pub fn put(&self, module: &StoredModule) -> Result<(), StoreError> {
        let mut db = self.db.lock();
        let tx = db.transaction()?;
        tx.execute("DELETE FROM modules WHERE namespace = ?1 AND name = ?2", params![module.namespace, module.name])?;
        tx.execute(
            "INSERT INTO modules (namespace, name, language, opt_level, source) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![module.namespace, module.name, module.language, module.opt_level, module.source],
        )?;
        tx.commit()
    }

    pub fn delete_module(&self, namespace: &str, name: &str) -> Result<(), StoreError> {
        self.db.lock().execute("DELETE FROM modules WHERE namespace = ?1 AND name = ?2", params![namespace, name])?;
        Ok(())
    }

    pub fn delete_namespace(&self, namespace: &str) -> Result<(), StoreError> {
        self.db.lock().execute("DELETE FROM modules WHERE namespace = ?1", params![namespace])?;
        Ok(())
    }
}
