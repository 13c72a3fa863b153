//! `--state FILE`: the modules of every namespace, kept in SQLite so that a restarted
//! server loads them again (lazily: nothing is compiled until called).
//!
//! Restoring must reproduce the state exactly, whatever order modules were added,
//! replaced and removed in. Two things make it so:
//! - modules are replayed in the order of their latest write (replacing one deletes
//!   its row and writes a new one), which reproduces which definition of a function
//!   won;
//! - every name the namespace knew (Ore functions and `extern fn`s, with their
//!   signatures) is stored too, and declared before any module is replayed, so a
//!   module that calls a function another module defines still checks when that
//!   other module now replays after it (it was replaced since);
//! - so is whether each function had a definition: unloading the module that
//!   defined it last leaves it undefined even if an older module still holds a
//!   definition, which replaying that older module would bring back.
//!
//! Durability: WAL with `synchronous=FULL`, so a write the server acknowledged
//! survives a crash of the process *and* of the machine (NORMAL would keep the file
//! intact but could lose the latest commits on power loss). Module writes are rare
//! next to calls, so the fsync per write costs nothing that matters.

use parking_lot::Mutex;
use rusqlite::{params, Connection};
use std::path::Path;

/// A module as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredModule {
    pub name: String,
    pub language: String,
    pub opt_level: Option<u8>,
    pub source: String,
}

/// A name a namespace knows: Ore source declaring it, and whether it had a
/// definition (always true for an `extern fn`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredName {
    pub name: String,
    pub declaration: String,
    pub defined: bool,
}

/// A namespace as stored: the names it knew and its modules in replay order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredNamespace {
    pub name: String,
    pub names: Vec<StoredName>,
    pub modules: Vec<StoredModule>,
}

/// The state file: namespaces' modules and the names they know, in SQLite.
pub struct Store {
    db: Mutex<Connection>,
}

pub type StoreError = rusqlite::Error;

impl Store {
    /// Opens (or creates) the state file at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS modules (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                namespace TEXT NOT NULL,
                name TEXT NOT NULL,
                language TEXT NOT NULL,
                opt_level INTEGER,
                source TEXT NOT NULL,
                UNIQUE (namespace, name)
            );
            CREATE TABLE IF NOT EXISTS names (
                namespace TEXT NOT NULL,
                name TEXT NOT NULL,
                declaration TEXT NOT NULL,
                defined INTEGER NOT NULL,
                PRIMARY KEY (namespace, name)
            );",
        )?;
        Ok(Store { db: Mutex::new(db) })
    }

    /// Every stored namespace, in the order of its oldest module.
    pub fn namespaces(&self) -> Result<Vec<StoredNamespace>, StoreError> {
        let db = self.db.lock();
        let mut all: Vec<StoredNamespace> = Vec::new();
        let mut query = db.prepare("SELECT namespace, name, language, opt_level, source FROM modules ORDER BY seq")?;
        let mut rows = query.query([])?;
        while let Some(row) = rows.next()? {
            let namespace: String = row.get(0)?;
            let module = StoredModule { name: row.get(1)?, language: row.get(2)?, opt_level: row.get(3)?, source: row.get(4)? };
            match all.iter_mut().find(|n| n.name == namespace) {
                Some(n) => n.modules.push(module),
                None => all.push(StoredNamespace { name: namespace, modules: vec![module], ..Default::default() }),
            }
        }
        let mut query = db.prepare("SELECT namespace, name, declaration, defined FROM names ORDER BY namespace, name")?;
        let mut rows = query.query([])?;
        while let Some(row) = rows.next()? {
            let namespace: String = row.get(0)?;
            let name = StoredName { name: row.get(1)?, declaration: row.get(2)?, defined: row.get(3)? };
            match all.iter_mut().find(|n| n.name == namespace) {
                Some(n) => n.names.push(name),
                // Every module of the namespace was unloaded: the names it knew stay.
                None => all.push(StoredNamespace { name: namespace, names: vec![name], ..Default::default() }),
            }
        }
        Ok(all)
    }

    /// Stores `module` of `namespace` (replacing the module of the same name), or
    /// removes the module `name` with `Err(name)`, and the namespace's names that
    /// are new or changed, in one transaction.
    pub fn write(&self, namespace: &str, module: Result<&StoredModule, &str>, names: &[StoredName]) -> Result<(), StoreError> {
        let mut db = self.db.lock();
        let tx = db.transaction()?;
        let name = match module {
            Ok(m) => &m.name,
            Err(name) => name,
        };
        tx.execute("DELETE FROM modules WHERE namespace = ?1 AND name = ?2", params![namespace, name])?;
        if let Ok(m) = module {
            tx.execute(
                "INSERT INTO modules (namespace, name, language, opt_level, source) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![namespace, m.name, m.language, m.opt_level, m.source],
            )?;
        }
        {
            let mut upsert = tx.prepare(
                "INSERT INTO names (namespace, name, declaration, defined) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (namespace, name) DO UPDATE SET defined = excluded.defined",
            )?;
            for n in names {
                upsert.execute(params![namespace, n.name, n.declaration, n.defined])?;
            }
        }
        tx.commit()
    }

    /// Forgets everything of `namespace`.
    pub fn delete_namespace(&self, namespace: &str) -> Result<(), StoreError> {
        let mut db = self.db.lock();
        let tx = db.transaction()?;
        tx.execute("DELETE FROM modules WHERE namespace = ?1", params![namespace])?;
        tx.execute("DELETE FROM names WHERE namespace = ?1", params![namespace])?;
        tx.commit()
    }
}
