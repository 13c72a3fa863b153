//! The namespace as the checker sees it: its functions, `extern fn`s, and which C
//! symbols modules may name under the engine's policy.

use super::*;

/// The namespace as the checker sees it.
pub(super) struct NamespaceEnv<'a> {
    pub(super) ns: &'a Tables,
    pub(super) host: &'a HashMap<String, HostSymbol>,
    pub(super) policy: &'a Policy,
}

impl Environment for NamespaceEnv<'_> {
    fn function(&self, name: &str) -> Option<ExistingFunction> {
        self.ns.functions.get(name).map(|f| ExistingFunction { sig: f.sig.clone(), origin: f.origin.clone() })
    }

    fn extern_fn(&self, name: &str) -> Option<ExternSig> {
        self.ns.externs.get(name).cloned()
    }

    fn is_host_function(&self, name: &str) -> bool {
        self.host.get(name).is_some_and(|h| h.sig.is_some())
    }

    fn resolve_symbol(&self, name: &str) -> SymbolStatus {
        // The host's own functions, objects and IR modules were added on purpose;
        // the policy governs what the process happens to export.
        match self.host.get(name).map(|h| &h.sig) {
            Some(Some(sig)) => return SymbolStatus::Host(sig.clone()),
            Some(None) => return SymbolStatus::Process,
            None => {}
        }
        self.policy.resolve_process_symbol(name)
    }
}
